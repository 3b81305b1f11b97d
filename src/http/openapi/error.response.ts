import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ErrorBody } from '../error-body.js';
import type { Covers, Undocumented } from './covers.js';

/** One field a 400 names, with what is wrong with it. */
export class FieldErrorResponse {
  @ApiProperty({ example: 'vcpus' })
  field!: string;

  @ApiProperty({ type: [String], example: ['vcpus must not be less than 1'] })
  errors!: string[];
}

/** The v1 error body (src/http/error-body.ts) as the OpenAPI document shows it, on every error status. */
export class ErrorResponse implements ErrorBody {
  @ApiProperty({ type: 'integer', example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request' })
  error!: string;

  @ApiProperty({ example: 'vcpus must not be less than 1' })
  message!: string;

  @ApiPropertyOptional({
    description:
      'More about the error: on a 400 the fields at fault ({field, errors}[]); on a 409 what blocks the command',
    oneOf: [
      { type: 'array', items: { $ref: '#/components/schemas/FieldErrorResponse' } },
      { type: 'object', additionalProperties: true },
    ],
  })
  details?: unknown;
}

export type ErrorResponseCovers = Covers<Undocumented<ErrorBody, ErrorResponse>>;
