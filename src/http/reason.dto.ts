import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

export const REASON_DOC = 'Why: kept in the event metadata for auditors (at most 500 characters)';

/** Every mutating command may say why; the reason lands in the events' metadata. */
export class ReasonDto {
  @ApiPropertyOptional({ maxLength: 500, description: REASON_DOC })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;
}
