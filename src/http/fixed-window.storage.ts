import { retryAfterSeconds, type RateCounter, type RateRefusal, type RateWindow } from './rate-windows.js';

interface Window {
  /** When this window closes (ms since epoch). */
  endsAt: number;
  hits: number;
}

/**
 * Fixed-window counters in this process's memory, O(1) per request and window (a
 * sliding log would keep one timestamp per hit: O(limit) CPU per request at the
 * generous limits we default to). A client over the limit is refused until its
 * window closes.
 */
export class FixedWindowStorage implements RateCounter {
  private readonly windows = new Map<string, Window>();
  private calls = 0;

  hit(tracker: string, windows: readonly RateWindow[]): Promise<RateRefusal | undefined> {
    const now = Date.now();
    if (++this.calls % 1024 === 0) this.sweep(now);
    for (const rw of windows) {
      const id = `${rw.name}:${tracker}`;
      let w = this.windows.get(id);
      if (!w || w.endsAt <= now) {
        w = { endsAt: now + rw.ttlMs, hits: 0 };
        this.windows.set(id, w);
      }
      if (++w.hits > rw.limit) return Promise.resolve({ window: rw, retryAfterS: retryAfterSeconds(w.endsAt - now) });
    }
    return Promise.resolve(undefined);
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
