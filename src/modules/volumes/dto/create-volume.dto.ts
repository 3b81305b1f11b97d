import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ID_PATTERN, NAME_PATTERN, NAME_RULE, PROJECT_PATTERN, PROJECT_RULE } from '../../../domain/patterns.js';
import { ReasonDto } from '../../../http/reason.dto.js';

export const VOLUME_MAX_GIB = 65536;

export class CreateVolumeDto extends ReasonDto {
  @ApiProperty({ example: 'data', description: 'Also where a container sees it: /mnt/<name>' })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name ${NAME_RULE}` })
  name!: string;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: VOLUME_MAX_GIB })
  @IsInt()
  @Min(1)
  @Max(VOLUME_MAX_GIB)
  sizeGiB!: number;

  @ApiPropertyOptional({ description: 'The host to keep it on; placement picks one with free disk when absent' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: `hostId ${NAME_RULE}` })
  hostId?: string;

  @ApiPropertyOptional({ description: "The project it belongs to (default: the caller's only one)" })
  @IsOptional()
  @IsString()
  @Matches(PROJECT_PATTERN, { message: `project ${PROJECT_RULE}` })
  project?: string;
}

export class ResizeVolumeDto extends ReasonDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: VOLUME_MAX_GIB, description: 'The new size: grow only' })
  @IsInt()
  @Min(1)
  @Max(VOLUME_MAX_GIB)
  sizeGiB!: number;
}

export class AttachVolumeDto extends ReasonDto {
  @ApiProperty({ format: 'uuid', description: 'A volume of the VM’s project, on the VM’s host' })
  @IsString()
  @Matches(ID_PATTERN, { message: `volumeId ${NAME_RULE}` })
  volumeId!: string;
}
