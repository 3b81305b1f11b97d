import type { RateWindow } from './rate-windows.js';

/** Requests of one window this process may still serve without asking Redis, until the window closes. */
interface Lease {
  endsAt: number;
  left: number;
}

/**
 * A lease's size: a hundredth of the window's limit (at least 1). A process asks Redis
 * once per that many requests of a client; what it leased and did not serve is lost to
 * the client when the window closes, so a client spread over P processes may be refused
 * up to (P - 1) % of its limit early, and never let past it.
 */
export function leaseSize(w: RateWindow, share: number): number {
  return Math.max(1, Math.floor(w.limit * share));
}

/** What this process leased per window and client; the windows of clients gone quiet are swept. */
export class RateLeases {
  private readonly leases = new Map<string, Lease>();
  private calls = 0;

  private key = (w: RateWindow, tracker: string) => `${w.name}:${tracker}`;

  /** Whether this window can serve one more request of `tracker` from its lease. */
  has(w: RateWindow, tracker: string, now: number): boolean {
    const l = this.leases.get(this.key(w, tracker));
    return l !== undefined && l.endsAt > now && l.left > 0;
  }

  /** Serves one request from the lease (`has` said yes in the same turn). */
  take(w: RateWindow, tracker: string): void {
    this.leases.get(this.key(w, tracker))!.left--;
  }

  /** Redis granted `granted` requests (one of them the request at hand) for the window's remaining `leftMs`. */
  grant(w: RateWindow, tracker: string, granted: number, leftMs: number, now: number): void {
    if (++this.calls % 1024 === 0) this.sweep(now);
    this.leases.set(this.key(w, tracker), { endsAt: now + leftMs, left: granted - 1 });
  }

  private sweep(now: number): void {
    for (const [k, l] of this.leases) if (l.endsAt <= now) this.leases.delete(k);
  }

  /** Live leases (for tests). */
  get size(): number {
    return this.leases.size;
  }
}
