import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ANY_OBJECT } from '../../../http/openapi/schemas.js';

const CHECKS = {
  type: 'object',
  additionalProperties: { type: 'object', properties: { status: { type: 'string' } }, additionalProperties: true },
  description: 'Per check (redis, store, subscriptions, results, workers): its status and details',
} as const;

/** Terminus's health report: each check with its status and details. */
export class HealthResponse {
  @ApiProperty({ enum: ['ok', 'error', 'shutting_down'], example: 'ok' })
  status!: string;

  @ApiPropertyOptional(CHECKS)
  info?: Record<string, unknown>;

  @ApiPropertyOptional(CHECKS)
  error?: Record<string, unknown>;

  @ApiProperty({ ...ANY_OBJECT, description: 'Every check, up or down' })
  details!: Record<string, unknown>;
}
