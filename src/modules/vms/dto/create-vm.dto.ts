import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';
import {
  ID_PATTERN,
  IMAGE_PATTERN,
  IMAGE_RULE,
  NAME_PATTERN,
  NAME_RULE,
  PROJECT_PATTERN,
  PROJECT_RULE,
  SSH_KEY_PATTERN,
  SSH_KEY_RULE,
  USER_DATA_MAX,
} from '../../../domain/patterns.js';

export class CreateVmDto extends ReasonDto {
  @ApiProperty({ example: 'web-1' })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name ${NAME_RULE}` })
  name!: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 256, example: 1 })
  @IsInt()
  @Min(1)
  @Max(256)
  vcpus!: number;

  @ApiProperty({ type: 'integer', minimum: 16, maximum: 4194304, example: 256 })
  @IsInt()
  @Min(16)
  @Max(4194304)
  memoryMiB!: number;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 65536, example: 1 })
  @IsInt()
  @Min(1)
  @Max(65536)
  diskGiB!: number;

  @ApiPropertyOptional({ description: 'Host to place the VM on; placement picks one when absent' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: `hostId ${NAME_RULE}` })
  hostId?: string;

  @ApiPropertyOptional({ default: true, description: 'Start the VM once defined' })
  @IsOptional()
  @IsBoolean()
  start?: boolean;

  @ApiPropertyOptional({
    description:
      "A catalog image by name (GET /v1/images; unknown → 400), or a path / kernel:<dir> inside the host's images dirs",
  })
  @IsOptional()
  @IsString()
  @Matches(IMAGE_PATTERN, { message: `image ${IMAGE_RULE}` })
  image?: string;

  @ApiPropertyOptional({
    description: "Project the VM belongs to; default: the caller's only project (`default` for admins)",
  })
  @IsOptional()
  @IsString()
  @Matches(PROJECT_PATTERN, { message: `project ${PROJECT_RULE}` })
  project?: string;

  @ApiPropertyOptional({
    description: `NoCloud user-data for the guest (a seed disk labelled cidata on qemu and libvirt); at most ${USER_DATA_MAX} characters. It is recorded in the log: no secrets.`,
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(USER_DATA_MAX)
  userData?: string;

  @ApiPropertyOptional({
    type: [String],
    description: "Volume ids (of the VM's project, all on one host: the VM is placed there), at most 16",
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(16)
  @IsString({ each: true })
  @Matches(ID_PATTERN, { each: true, message: `each of volumes ${NAME_RULE}` })
  volumes?: string[];

  @ApiPropertyOptional({ type: [String], description: 'SSH public keys (OpenSSH one-line format), at most 32' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @Matches(SSH_KEY_PATTERN, { each: true, message: `each of sshKeys ${SSH_KEY_RULE}` })
  sshKeys?: string[];
}
