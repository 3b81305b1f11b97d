import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

/** Every mutating command may say why; the reason lands in the events' metadata. */
export class ReasonDto {
  @ApiPropertyOptional({ maxLength: 500, description: 'Why: kept in the event metadata for auditors' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}
