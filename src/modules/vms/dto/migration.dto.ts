import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, Matches } from 'class-validator';
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
}
