import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsObject, IsOptional, IsString, Matches } from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';
import { ID_PATTERN, NAME_RULE } from '../../../domain/patterns.js';

export class MigrationDto extends ReasonDto {
  @ApiPropertyOptional({ description: 'Target host; placement picks one (same driver, active, room) when absent' })
  @IsOptional()
  @IsString()
  @Matches(ID_PATTERN, { message: `targetHostId ${NAME_RULE}` })
  targetHostId?: string;

  @ApiPropertyOptional({ default: true, description: 'Live (running VM, RAM copied) or cold (stopped VM)' })
  @IsOptional()
  @IsBoolean()
  live?: boolean;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { zone: 'a' },
    description: "Without targetHostId: only hosts carrying these labels (default: the VM's own hostSelector)",
  })
  @IsOptional()
  @IsObject()
  hostSelector?: Record<string, string>;
}
