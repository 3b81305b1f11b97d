import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches } from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';
import { NAME_PATTERN, NAME_RULE } from '../../../domain/patterns.js';

export class SnapshotDto extends ReasonDto {
  @ApiProperty({ example: 'before-upgrade' })
  @IsString()
  @Matches(NAME_PATTERN, { message: `name ${NAME_RULE}` })
  name!: string;

  @ApiPropertyOptional({ description: 'Include RAM (default: true when the VM runs or is paused)' })
  @IsOptional()
  @IsBoolean()
  memory?: boolean;
}
