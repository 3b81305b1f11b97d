import { HttpException, Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '../../config/config.js';
import { errorBody } from '../../http/error-body.js';
import { CONFIG } from '../../http/tokens.js';

/**
 * Open live feeds per principal, in this process: each holds a store subscription
 * and a socket, so one client may not open them without bound. A multi-process
 * deployment allows SSE_MAX_PER_PRINCIPAL per API process.
 */
@Injectable()
export class SseLimiter {
  private readonly open = new Map<string, number>();

  constructor(@Inject(CONFIG) private readonly config: AppConfig) {}

  /** Counts one more feed for `principal`, or refuses with 429; the returned release is safe to call twice. */
  acquire(principal: string): () => void {
    const max = this.config.sseMaxPerPrincipal;
    const n = this.open.get(principal) ?? 0;
    if (n >= max)
      throw new HttpException(
        errorBody(
          429,
          `too many live feeds: ${principal} already has ${n} open (SSE_MAX_PER_PRINCIPAL=${max}); close one first`,
          { open: n, limit: max },
        ),
        429,
      );
    this.open.set(principal, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(principal) ?? 1) - 1;
      if (left <= 0) this.open.delete(principal);
      else this.open.set(principal, left);
    };
  }
}
