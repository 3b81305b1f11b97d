import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';

export class StopVmDto extends ReasonDto {
  @ApiPropertyOptional({ default: false, description: 'Hard stop at once instead of ACPI shutdown' })
  @IsOptional()
  @IsBoolean()
  force?: boolean;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 600000,
    description: 'How long a graceful stop may take before a hard stop',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(600000)
  timeoutMs?: number;
}
