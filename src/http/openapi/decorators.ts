import { applyDecorators, HttpCode, type Type } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, type HeadersObject } from '@nestjs/swagger';
import { AcceptedResponse } from './accepted.response.js';

/** A command: answers 202 with the operation to follow, also named by `Location`. */
export function ApiCommand(
  summary: string,
  description?: string,
  extraHeaders: HeadersObject = {},
): MethodDecorator & ClassDecorator {
  return applyDecorators(
    HttpCode(202),
    ApiOperation({ summary, ...(description ? { description } : {}) }),
    ApiResponse({
      status: 202,
      description: 'Accepted: recorded in the log; follow the operation',
      type: AcceptedResponse,
      headers: {
        Location: { description: 'The operation: /v1/operations/{operationId}', schema: { type: 'string' } },
        ...extraHeaders,
      },
    }),
  );
}

/** A command on one VM: its 202 also names the VM's revision after the command. */
export function ApiVmCommand(summary: string, description?: string): MethodDecorator & ClassDecorator {
  return ApiCommand(summary, description, {
    ETag: {
      description:
        'The VM\'s revision after the command, quoted (e.g. "3"): GET /v1/vms/{id} answers it or later; If-Match for the next command',
      schema: { type: 'string' },
    },
  });
}

/** A read (or a non-command answer): its summary, its typed body and the headers it sets. */
export function ApiAnswer(
  summary: string,
  type: Type<unknown> | [Type<unknown>],
  opts: { status?: number; description?: string; headers?: HeadersObject } = {},
): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiOperation({ summary }),
    ApiResponse({
      status: opts.status ?? 200,
      description: opts.description ?? 'OK',
      type,
      ...(opts.headers ? { headers: opts.headers } : {}),
    }),
  );
}

/** The `ETag` a read sets: the resource's revision, for `If-Match` on the next command. */
export const ETAG_HEADER: HeadersObject = {
  ETag: { description: 'The revision read, quoted (e.g. "7"): send it back as If-Match', schema: { type: 'string' } },
};

/** `?cursor=&limit=`: one page of a list, `next` in the body for the following one. */
export function ApiPage(max = 1000): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiQuery({
      name: 'cursor',
      required: false,
      description: 'Where to continue: the `next` of the previous page',
      schema: { type: 'string', pattern: '^\\d{1,12}$' },
    }),
    ApiQuery({
      name: 'limit',
      required: false,
      description: 'Items per page',
      schema: { type: 'integer', minimum: 1, maximum: max, default: 100 },
    }),
  );
}
