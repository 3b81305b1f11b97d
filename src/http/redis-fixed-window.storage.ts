import type { Redis } from 'ioredis';
import { RedisScript } from '../projections/redis-script.js';
import { FixedWindowStorage } from './fixed-window.storage.js';
import { leaseSize, RateLeases } from './rate-leases.js';
import type { RateCounter, RateRefusal, RateWindow } from './rate-windows.js';
import { retryAfterSeconds } from './rate-windows.js';

/**
 * Leases for every window of one request that needs one, in one round trip: each grants
 * up to ARGV's lease size of what is left of the limit (counted at once, whether this
 * process serves them or not, so the processes together never serve past the limit),
 * opens the window on its first grant, and the first window with nothing left stops it:
 * {0, ms left}. A counter found without an expiry (written by hand, or by a version that
 * crashed between two calls) gets one, so no client stays refused for good.
 * KEYS: one counter per window; ARGV: ttl, limit, lease of each window in the same order.
 * Answers {granted, ms left} per window, up to the first refusal.
 */
const LEASE = new RedisScript(`
local out = {}
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[3 * i - 2])
  local limit = tonumber(ARGV[3 * i - 1])
  local used = tonumber(redis.call('get', key) or '0')
  local granted = math.min(tonumber(ARGV[3 * i]), limit - used)
  if granted > 0 then redis.call('incrby', key, granted) else granted = 0 end
  local left = redis.call('pttl', key)
  if left < 0 then redis.call('pexpire', key, ttl); left = ttl end
  table.insert(out, granted)
  table.insert(out, left)
  if granted == 0 then return out end
end
return out`);

/**
 * The same fixed windows as FixedWindowStorage, counted in Redis so that every API
 * process behind a balancer spends one budget per principal (three processes must not
 * triple a client's limit). Redis hands each process leases of a hundredth of the limit
 * (rate-leases.ts), so the limit costs a round trip per that many requests of a client,
 * not one per request: at the default limits, one per 20. A small limit leases one at a
 * time, and is counted exactly. When Redis does not answer the process counts in its own
 * memory meanwhile: a limit meant against runaway clients must not take the API down with Redis.
 */
export class RedisFixedWindowStorage implements RateCounter {
  private readonly fallback = new FixedWindowStorage();
  private readonly leases = new RateLeases();
  /** A client's lease request in flight: its other requests wait for it rather than ask again. */
  private readonly asking = new Map<string, Promise<void>>();
  /** Said once per outage, not once per request. */
  private degraded = false;

  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (window: string, tracker: string) => string,
    private readonly onError: (err: unknown) => void = () => undefined,
    /** Share of a window's limit leased at a time (0: one request at a time). */
    private readonly share = 0.01,
  ) {}

  async hit(tracker: string, windows: readonly RateWindow[]): Promise<RateRefusal | undefined> {
    for (let pending = this.asking.get(tracker); pending; pending = this.asking.get(tracker)) await pending;
    const now = Date.now();
    const missing = windows.filter((w) => !this.leases.has(w, tracker, now));
    if (missing.length === 0) {
      for (const w of windows) this.leases.take(w, tracker);
      return undefined;
    }
    // The client's other requests wait until this lease is applied, not merely answered.
    let applied!: () => void;
    this.asking.set(tracker, new Promise<void>((resolve) => (applied = resolve)));
    try {
      const answer = await this.lease(tracker, missing);
      this.degraded = false;
      return this.apply(tracker, windows, missing, answer, Date.now());
    } catch (err) {
      if (!this.degraded) this.onError(err);
      this.degraded = true;
      return this.fallback.hit(tracker, windows);
    } finally {
      this.asking.delete(tracker);
      applied();
    }
  }

  /**
   * In the windows' order: a leased window serves the request from its lease, a granted one
   * from its new lease; the first refused one refuses it, and the windows after it are not
   * counted (a refused request was never served).
   */
  private apply(
    tracker: string,
    windows: readonly RateWindow[],
    missing: RateWindow[],
    answer: number[],
    now: number,
  ): RateRefusal | undefined {
    for (const w of windows) {
      const i = missing.indexOf(w);
      if (i < 0) {
        this.leases.take(w, tracker);
        continue;
      }
      const granted = answer[2 * i] ?? 0;
      const leftMs = answer[2 * i + 1] ?? w.ttlMs;
      if (granted === 0) return { window: w, retryAfterS: retryAfterSeconds(leftMs) };
      this.leases.grant(w, tracker, granted, leftMs, now);
    }
    return undefined;
  }

  private lease(tracker: string, windows: RateWindow[]): Promise<number[]> {
    const keys = windows.map((w) => this.keyOf(w.name, tracker));
    const args = windows.flatMap((w) => [w.ttlMs, w.limit, leaseSize(w, this.share)]);
    return this.run(keys, args);
  }

  /** By digest: the script is not resent per call (RedisScript). */
  private async run(keys: string[], args: number[]): Promise<number[]> {
    return (await LEASE.run(this.redis, keys, args)) as number[];
  }
}
