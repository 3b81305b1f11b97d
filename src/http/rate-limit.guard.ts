import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerException,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { PUBLIC_KEY } from './auth/roles.js';
import { TokenVerifier } from './auth/token-verifier.js';

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * Per-principal rate limit. It runs before authentication so that token guessing is
 * limited too: a request with a valid token counts against its principal (all of that
 * token's routes together), any other against the client's IP. Public routes
 * (health, metrics) are not limited: monitors poll them.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly verifier: TokenVerifier,
  ) {
    super(options, storage, reflector);
  }

  protected override shouldSkip(ctx: ExecutionContext): Promise<boolean> {
    return Promise.resolve(
      this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [ctx.getHandler(), ctx.getClass()]) === true,
    );
  }

  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const r = req as unknown as Request;
    const token = BEARER.exec(r.headers.authorization ?? '')?.[1];
    const principal = token ? this.verifier.verify(token) : undefined;
    return Promise.resolve(principal ? `principal ${principal.id}` : `ip ${r.ip ?? 'unknown'}`);
  }

  /** One budget per client across every route (the library's default key is per route). */
  protected override generateKey(_ctx: ExecutionContext, tracker: string, name: string): string {
    return `${name} ${tracker}`;
  }

  protected override throwThrottlingException(ctx: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const res = ctx.switchToHttp().getResponse<Response>();
    res.setHeader('Retry-After', String(detail.timeToBlockExpire));
    const who = detail.tracker.replace(/^principal /, '');
    const per = detail.ttl >= 60000 ? 'minute' : 'second';
    throw new ThrottlerException(
      `rate limit exceeded for ${who}: at most ${detail.limit} requests per ${per}; retry after ${detail.timeToBlockExpire} s`,
    );
  }
}
