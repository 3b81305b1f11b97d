import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  ValidateNested,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';
import { MAX_VCPUS, RESTART_POLICIES, type RestartPolicy } from '../../../domain/vm/vm.types.js';
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
import { MAX_NICS } from '../../../application/network-admission.js';

/** One NIC: the network it is on (GET /v1/networks); its address is allocated at create. */
export class NicRequestDto {
  @ApiProperty({ format: 'uuid', description: 'A network id (GET /v1/networks)' })
  @IsUUID('4', { message: 'networkId must be a network id (a UUID)' })
  networkId!: string;
}

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

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_VCPUS,
    description:
      'Ceiling vCPUs can be added up to while the VM runs (≥ vcpus). Default: min(64, 4 × vcpus). Not reserved on the host',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_VCPUS)
  maxVcpus?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 16,
    maximum: 16777216,
    description:
      'Ceiling memory can be added up to while the VM runs (≥ memoryMiB). Default: 4 × memoryMiB. Not reserved on the host',
  })
  @IsOptional()
  @IsInt()
  @Min(16)
  @Max(16777216)
  maxMemoryMiB?: number;

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

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { zone: 'a' },
    description: 'Host labels a host must carry (every one, equal values) to take the VM',
  })
  @IsOptional()
  @IsObject()
  hostSelector?: Record<string, string>;

  @ApiPropertyOptional({
    enum: ['spread', 'pack'],
    description:
      'spread: the host with the most free memory; pack: the fullest host that fits (default: PLACEMENT_STRATEGY)',
  })
  @IsOptional()
  @IsIn(['spread', 'pack'], { message: 'placement must be one of spread, pack' })
  placement?: 'spread' | 'pack';

  @ApiPropertyOptional({
    description: 'Placement group to join (POST /v1/placement-groups): its affinity rule places the VM',
  })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: `placementGroupId ${NAME_RULE}` })
  placementGroupId?: string;

  @ApiPropertyOptional({
    type: [NicRequestDto],
    maxItems: MAX_NICS,
    description: `NICs (at most ${MAX_NICS}), each given an address on its network before the VM is created`,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_NICS)
  @ValidateNested({ each: true })
  @Type(() => NicRequestDto)
  nics?: NicRequestDto[];

  @ApiPropertyOptional({
    enum: RESTART_POLICIES,
    enumName: 'RestartPolicy',
    default: 'never',
    description:
      'on-crash: a crashed VM is restarted (backoff, limit); always: also one found stopped that nobody stopped. ' +
      'With shared storage, either also recovers the VM on another host when its host is fenced',
  })
  @IsOptional()
  @IsIn(RESTART_POLICIES, { message: `restartPolicy must be one of ${RESTART_POLICIES.join(', ')}` })
  restartPolicy?: RestartPolicy;
}
