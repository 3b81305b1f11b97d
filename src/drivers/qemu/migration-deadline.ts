import { DriverError, type CallContext, type Progress } from '../hypervisor-driver.port.js';
import { errorMessage } from '../kit/driver-errors.js';

/* What every part of a source's migration shares: its deadline and its progress reports. */

/** Bounds one migration by the host's timeout and the caller's signal. */
export class Deadline {
  private readonly until: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.until = Date.now() + timeoutMs;
  }

  check(what: string): void {
    if (this.signal?.aborted) {
      const reason: unknown = this.signal.reason;
      const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
      throw new DriverError(timedOut ? 'timeout' : 'failed', `${what} aborted: ${errorMessage(reason)}`);
    }
    if (Date.now() > this.until) throw new DriverError('timeout', `${what} did not finish within ${this.timeoutMs} ms`);
  }

  /** An AbortSignal that fires on the caller's abort or at the deadline (for stream copies). */
  asSignal(): AbortSignal {
    const timer = AbortSignal.timeout(Math.max(1, this.until - Date.now()));
    return this.signal ? AbortSignal.any([this.signal, timer]) : timer;
  }
}

/** A throwing progress sink must not break (and roll back) a migration that is going well. */
export function report(ctx: CallContext, progress: Progress): void {
  try {
    ctx.onProgress?.(progress);
  } catch {
    // ignored on purpose
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
