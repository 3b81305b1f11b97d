import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { ReasonDto } from '../../http/reason.dto.js';

/** A rebuild may be throttled so it does not starve a busy store or Redis. */
export class RebuildDto extends ReasonDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 5000,
    default: 500,
    description: 'Events per Redis transaction',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(5000)
  batchSize?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 10000,
    default: 0,
    description: 'Pause between batches while live runs (ms)',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10000)
  pauseMs?: number;
}
