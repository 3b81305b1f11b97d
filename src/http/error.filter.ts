import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { ConcurrencyExhaustedError, PreconditionFailedError } from '../application/handle-command.js';
import { DomainError, type DomainErrorCode } from '../domain/domain-error.js';
import { UnavailableError } from '../eventstore/errors.js';
import { errorBody, type ErrorBody } from './error-body.js';

const DOMAIN_STATUS: Record<DomainErrorCode, number> = {
  not_found: 404,
  conflict: 409,
  capacity: 409,
  unsupported: 422,
  invalid: 400,
  quota: 429,
};

/** ioredis/BullMQ failures when Redis is down: the queues are unavailable, not the request wrong. */
function isRedisDown(err: Error): boolean {
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|enableOfflineQueue|ECONNREFUSED|ECONNRESET|Stream isn't writeable|Reached the max retries/i.test(
      err.message,
    )
  );
}

interface BodyParserError extends Error {
  type?: string;
  status?: number;
  limit?: number;
}

function bodyParserError(err: unknown): ErrorBody | undefined {
  if (!(err instanceof Error)) return undefined;
  const bp = err as BodyParserError;
  if (bp.type === 'entity.too.large')
    return errorBody(413, `request body larger than ${bp.limit ?? 'the limit'} bytes`);
  if (bp.type === 'entity.parse.failed') return errorBody(400, `body is not valid JSON: ${err.message}`);
  if (bp.type === 'encoding.unsupported' || bp.type === 'charset.unsupported') return errorBody(415, err.message);
  return undefined;
}

export function toErrorBody(err: unknown): ErrorBody {
  // Nest wraps body-parser's errors in an HttpException; the original says which limit or parse error.
  const parsed = bodyParserError(err instanceof HttpException ? err.cause : err);
  if (parsed) return parsed;
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const res = err.getResponse();
    if (typeof res === 'object' && res && 'statusCode' in res && 'message' in res && typeof res.message === 'string') {
      return res as ErrorBody;
    }
    const msg =
      typeof res === 'string'
        ? res
        : typeof res === 'object' && res && 'message' in res
          ? ([] as unknown[]).concat(res.message).join('; ')
          : err.message;
    return errorBody(status, msg);
  }
  if (err instanceof DomainError) return errorBody(DOMAIN_STATUS[err.code], err.message, err.details);
  if (err instanceof PreconditionFailedError) return errorBody(412, err.message);
  if (err instanceof ConcurrencyExhaustedError) return errorBody(409, err.message);
  if (err instanceof UnavailableError && err.outcomeUnknown)
    return errorBody(
      503,
      `event store unavailable: ${err.message}; the command may have been recorded: look for its operation (GET /v1/operations?vmId=) before retrying, a repeat of a recorded one is refused with 409 naming it`,
    );
  if (err instanceof UnavailableError)
    return errorBody(503, `event store unavailable: ${err.message}; nothing was recorded, retry later`);
  if (err instanceof Error) {
    const bp = err as BodyParserError;
    if (typeof bp.status === 'number' && bp.status >= 400 && bp.status < 500) return errorBody(bp.status, err.message);
    if (isRedisDown(err)) return errorBody(503, 'queues unavailable (Redis): nothing was accepted, retry later');
  }
  return errorBody(500, 'internal error');
}

@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(err: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const body = toErrorBody(err);
    if (body.statusCode >= 500) this.log.error({ err }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(body.statusCode).json(body);
  }
}
