import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsOptional, ValidateNested } from 'class-validator';
import { ReasonDto } from '../../../http/reason.dto.js';
import { CapacityDto } from './register-host.dto.js';

/** PATCH /v1/hosts/{id}: what is absent stays; labels replace the host's labels as a whole. */
export class UpdateHostDto extends ReasonDto {
  @ApiPropertyOptional({ type: CapacityDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => CapacityDto)
  capacity?: CapacityDto;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { rack: 'r1', zone: 'a' },
    description:
      'Up to 32 labels: keys match [a-z0-9][a-z0-9._/-]{0,62}, values are up to 63 characters of [A-Za-z0-9._-]',
  })
  @IsOptional()
  @IsObject()
  labels?: Record<string, string>;
}
