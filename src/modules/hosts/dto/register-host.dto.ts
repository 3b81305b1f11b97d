import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsDefined,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';
import { ID_PATTERN, NAME_PATTERN, NAME_RULE } from '../../../domain/patterns.js';

export class CapacityDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: 100000 })
  @IsInt()
  @Min(1)
  @Max(100000)
  vcpus!: number;

  @ApiProperty({ type: 'integer', minimum: 16, maximum: 1073741824 })
  @IsInt()
  @Min(16)
  @Max(1073741824)
  memoryMiB!: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 1073741824,
    description: 'Disk for VM disks and volumes; absent = not counted (unlimited)',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1073741824)
  diskGiB?: number;
}

export class RegisterHostDto extends ReasonDto {
  @ApiPropertyOptional({ description: 'Host id; generated when absent' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: `id ${NAME_RULE}` })
  id?: string;

  @ApiProperty({ example: 'hv-1' })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name ${NAME_RULE}` })
  name!: string;

  @ApiProperty({ example: 'qemu', description: 'Driver kind: simulated, qemu, libvirt, container' })
  @IsString()
  @Matches(/^[a-z][a-z0-9-]{0,31}$/, { message: 'driver must be a driver kind such as qemu or simulated' })
  driver!: string;

  @ApiProperty({ example: 'qemu:///system' })
  @IsString()
  @MaxLength(1024)
  @Matches(/^[a-z][a-z0-9+.-]*:[^\s]*$/, { message: 'uri must be a URI such as qemu:///system' })
  uri!: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { rack: 'r1' },
    description: 'Labels (placement constraints); see PATCH /v1/hosts/{id}',
  })
  @IsOptional()
  @IsObject()
  labels?: Record<string, string>;

  @ApiProperty({ type: CapacityDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => CapacityDto)
  capacity!: CapacityDto;
}
