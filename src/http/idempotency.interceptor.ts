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
import type { IdempotencyStore, StoredAnswer } from './idempotency.store.js';
import { IDEMPOTENCY } from './tokens.js';

const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * `Idempotency-Key` on a POST/DELETE: the first answer is stored (per
 * principal, 24 h) and replayed for the same key and the same request; the
 * same key with another request is refused with 422. A key whose first
 * request is still running gets 409, however long that request runs.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(@Inject(IDEMPOTENCY) private readonly store: IdempotencyStore) {}

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
    const hash = createHash('sha256')
      .update(`${req.method} ${req.originalUrl}\n${canonicalJson(req.body ?? null)}`)
      .digest('hex');
    const claim = await this.store.claim(scope, key, hash);
    if (!claim) {
      const stored = await this.store.get(scope, key);
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
      const stored: StoredAnswer = {
        state: 'done',
        hash,
        status: res.statusCode,
        body,
        ...(typeof location === 'string' ? { location } : {}),
      };
      await claim.complete(stored);
      return body;
    } catch (err) {
      // A refused request stored nothing: the client may fix it and retry with the same key.
      await claim.release().catch(() => undefined);
      throw err;
    }
  }
}
