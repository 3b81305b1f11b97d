import type { ThrottlerStorage } from '@nestjs/throttler';

interface Window {
  /** When this window closes (ms since epoch). */
  endsAt: number;
  hits: number;
}

interface Hit {
  totalHits: number;
  timeToExpire: number;
  isBlocked: boolean;
  timeToBlockExpire: number;
}

/**
 * Fixed-window counters, O(1) per request. The library's default storage keeps one
 * timestamp per hit and filters them on every request: O(limit) CPU per request at
 * the generous limits we default to. A client over the limit is refused until its
 * window closes.
 */
export class FixedWindowStorage implements ThrottlerStorage {
  private readonly windows = new Map<string, Window>();
  private calls = 0;

  increment(key: string, ttl: number, limit: number, _blockDuration: number, throttlerName: string): Promise<Hit> {
    const now = Date.now();
    if (++this.calls % 1024 === 0) this.sweep(now);
    const id = `${throttlerName}:${key}`;
    let w = this.windows.get(id);
    if (!w || w.endsAt <= now) {
      w = { endsAt: now + ttl, hits: 0 };
      this.windows.set(id, w);
    }
    w.hits++;
    const isBlocked = w.hits > limit;
    const left = Math.max(1, Math.ceil((w.endsAt - now) / 1000));
    return Promise.resolve({
      totalHits: w.hits,
      timeToExpire: left,
      isBlocked,
      timeToBlockExpire: isBlocked ? left : 0,
    });
  }

  /** Windows of clients gone quiet are dropped, so memory follows the active clients only. */
  private sweep(now: number): void {
    for (const [id, w] of this.windows) if (w.endsAt <= now) this.windows.delete(id);
  }

  /** Number of live windows (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }
}
