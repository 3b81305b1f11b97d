import {
  ConflictException,
  Inject,
  Injectable,
  UnprocessableEntityException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { Response } from 'express';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { canonicalJson } from '../eventstore/canonical-json.js';
import type { AuthedRequest } from './auth/auth.guard.js';
import type { Runtime } from '../runtime/runtime.js';
import { RUNTIME } from '../runtime/runtime.token.js';

interface Stored {
  state: 'pending' | 'done';
  hash: string;
  status?: number;
  location?: string;
  body?: unknown;
}

const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const TTL_S = 24 * 3600;

/**
 * `Idempotency-Key` on a POST/DELETE: the first answer is stored (per
 * principal, 24 h) and replayed for the same key and the same request; the
 * same key with another request is refused with 422. A key whose first
 * request is still running gets 409.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(@Inject(RUNTIME) private readonly rt: Runtime) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const res = ctx.switchToHttp().getResponse<Response>();
    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || (req.method !== 'POST' && req.method !== 'DELETE')) return next.handle();
    return from(this.handle(key, req, res, next));
  }

  private async handle(key: string, req: AuthedRequest, res: Response, next: CallHandler): Promise<unknown> {
    if (!KEY_PATTERN.test(key)) {
      throw new UnprocessableEntityException(
        'Idempotency-Key must be 1-128 characters of letters, digits, ".", "_", ":" or "-"',
      );
    }
    const scope = req.principal?.id ?? 'anonymous';
    const redisKey = this.rt.keys.idempotency(scope, key);
    const hash = createHash('sha256')
      .update(`${req.method} ${req.originalUrl}\n${canonicalJson(req.body ?? null)}`)
      .digest('hex');
    const claimed = await this.rt.redis.set(
      redisKey,
      JSON.stringify({ state: 'pending', hash } satisfies Stored),
      'EX',
      60,
      'NX',
    );
    if (!claimed) {
      const raw = await this.rt.redis.get(redisKey);
      const stored = raw ? (JSON.parse(raw) as Stored) : undefined;
      if (stored && stored.hash !== hash) {
        throw new UnprocessableEntityException('Idempotency-Key was already used with a different request');
      }
      if (!stored || stored.state === 'pending') {
        throw new ConflictException('a request with this Idempotency-Key is still being processed; retry shortly');
      }
      res.status(stored.status ?? 200);
      if (stored.location) res.location(stored.location);
      res.setHeader('Idempotent-Replayed', 'true');
      return stored.body;
    }
    try {
      const body = await lastValueFrom(next.handle(), { defaultValue: undefined });
      const location = res.getHeader('Location');
      const stored: Stored = {
        state: 'done',
        hash,
        status: res.statusCode,
        body,
        ...(typeof location === 'string' ? { location } : {}),
      };
      await this.rt.redis.set(redisKey, JSON.stringify(stored), 'EX', TTL_S);
      return body;
    } catch (err) {
      // A refused request stored nothing: the client may fix it and retry with the same key.
      await this.rt.redis.del(redisKey).catch(() => undefined);
      throw err;
    }
  }
}
