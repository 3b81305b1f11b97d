import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { FixedWindowStorage } from './fixed-window.storage.js';
import type { RateCounter, RateRefusal, RateWindow } from './rate-windows.js';
import { retryAfterSeconds } from './rate-windows.js';

/**
 * Every window of one request in one round trip (the limit is checked on every
 * request, so each round trip is paid per request): count the hit, open the window
 * on its first one, and stop at the first window past its limit, answering which
 * and how long it has left. A counter found without an expiry (written by hand,
 * or by a version that crashed between two calls) gets one when it refuses, so
 * no client stays refused for good.
 * KEYS: one counter per window; ARGV: ttl, limit of each window in the same order.
 */
const HIT = `
for i, key in ipairs(KEYS) do
  local ttl = tonumber(ARGV[2 * i - 1])
  local n = redis.call('incr', key)
  if n == 1 then
    redis.call('pexpire', key, ttl)
  elseif n > tonumber(ARGV[2 * i]) then
    local left = redis.call('pttl', key)
    if left < 0 then redis.call('pexpire', key, ttl); left = ttl end
    return {i, left}
  end
end
return {0, 0}`;
const HIT_SHA = createHash('sha1').update(HIT).digest('hex');

/**
 * The same fixed windows as FixedWindowStorage, counted in Redis so that every
 * API process behind a balancer spends one budget per principal (three
 * processes must not triple a client's limit). When Redis does not answer the
 * process counts in its own memory meanwhile: a limit meant against runaway
 * clients must not take the API down with Redis.
 */
export class RedisFixedWindowStorage implements RateCounter {
  private readonly fallback = new FixedWindowStorage();
  /** Said once per outage, not once per request. */
  private degraded = false;

  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (window: string, tracker: string) => string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  async hit(tracker: string, windows: readonly RateWindow[]): Promise<RateRefusal | undefined> {
    let answer: [number, number];
    try {
      answer = await this.run(
        windows.map((w) => this.keyOf(w.name, tracker)),
        windows.flatMap((w) => [w.ttlMs, w.limit]),
      );
    } catch (err) {
      if (!this.degraded) this.onError(err);
      this.degraded = true;
      return this.fallback.hit(tracker, windows);
    }
    this.degraded = false;
    const [index, leftMs] = answer;
    const window = windows[index - 1];
    return window ? { window, retryAfterS: retryAfterSeconds(leftMs) } : undefined;
  }

  /** By digest (the script is not resent per request); sent whole once when Redis does not know it (a restart, SCRIPT FLUSH). */
  private async run(keys: string[], args: number[]): Promise<[number, number]> {
    try {
      return (await this.redis.evalsha(HIT_SHA, keys.length, ...keys, ...args)) as [number, number];
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return (await this.redis.eval(HIT, keys.length, ...keys, ...args)) as [number, number];
    }
  }
}
