import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';
import { ID_PATTERN, IMAGE_PATTERN, IMAGE_RULE, NAME_PATTERN, NAME_RULE } from '../../../domain/patterns.js';

export class CreateVmDto extends ReasonDto {
  @ApiProperty({ example: 'web-1' })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name ${NAME_RULE}` })
  name!: string;

  @ApiProperty({ minimum: 1, maximum: 256, example: 1 })
  @IsInt()
  @Min(1)
  @Max(256)
  vcpus!: number;

  @ApiProperty({ minimum: 16, maximum: 4194304, example: 256 })
  @IsInt()
  @Min(16)
  @Max(4194304)
  memoryMiB!: number;

  @ApiProperty({ minimum: 1, maximum: 65536, example: 1 })
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
}
