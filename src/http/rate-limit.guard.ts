import { HttpException, HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { PUBLIC_KEY } from './auth/roles.js';
import { TokenVerifier } from './auth/token-verifier.js';
import type { RateCounter, RateRefusal, RateWindow } from './rate-windows.js';

const BEARER = /^Bearer\s+(\S+)$/i;

/** The windows in force (burst first, then per minute) and where they are counted. */
export interface RateLimitSettings {
  windows: readonly RateWindow[];
  counter: RateCounter;
}

export const RATE_LIMIT = Symbol('RATE_LIMIT');

/**
 * Per-principal rate limit. It runs before authentication so that token guessing is
 * limited too: a request with a valid token counts against its principal (all of that
 * token's routes together), any other against the client's IP. Public routes
 * (health, metrics) are not limited: monitors poll them. Every window is counted in
 * one call on the counter (one Redis round trip per request, whatever the windows).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  constructor(
    @Inject(RATE_LIMIT) private readonly settings: RateLimitSettings,
    private readonly reflector: Reflector,
    private readonly verifier: TokenVerifier,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, [ctx.getHandler(), ctx.getClass()]) === true) return true;
    const http = ctx.switchToHttp();
    const tracker = this.tracker(http.getRequest<Request>());
    const refused = await this.settings.counter.hit(tracker, this.settings.windows);
    if (refused) throw this.refusal(http.getResponse<Response>(), tracker, refused);
    return true;
  }

  private tracker(req: Request): string {
    const token = BEARER.exec(req.headers.authorization ?? '')?.[1];
    const principal = token ? this.verifier.verifyFor(req, token) : undefined;
    return principal ? `principal ${principal.id}` : `ip ${req.ip ?? 'unknown'}`;
  }

  private refusal(res: Response, tracker: string, { window, retryAfterS }: RateRefusal): HttpException {
    res.setHeader('Retry-After', String(retryAfterS));
    const who = tracker.replace(/^principal /, '');
    const per = window.ttlMs >= 60000 ? 'minute' : 'second';
    return new HttpException(
      `rate limit exceeded for ${who}: at most ${window.limit} requests per ${per}; retry after ${retryAfterS} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
