import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';
import { FixedWindowStorage } from './fixed-window.storage.js';

type Hit = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/** One round trip: count the hit, open the window on the first one, say how long it has left. */
const HIT = `
local n = redis.call('incr', KEYS[1])
if n == 1 then redis.call('pexpire', KEYS[1], ARGV[1]) end
local left = redis.call('pttl', KEYS[1])
if left < 0 then redis.call('pexpire', KEYS[1], ARGV[1]); left = tonumber(ARGV[1]) end
return {n, left}`;

/**
 * The same fixed windows as FixedWindowStorage, counted in Redis so that every
 * API process behind a balancer spends one budget per principal (three
 * processes must not triple a client's limit). When Redis does not answer the
 * process counts in its own memory meanwhile: a limit meant against runaway
 * clients must not take the API down with Redis.
 */
export class RedisFixedWindowStorage implements ThrottlerStorage {
  private readonly fallback = new FixedWindowStorage();
  /** Said once per outage, not once per request. */
  private degraded = false;

  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (throttler: string, tracker: string) => string,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<Hit> {
    let answer: unknown;
    try {
      answer = await this.redis.eval(HIT, 1, this.keyOf(throttlerName, key), ttl);
    } catch (err) {
      if (!this.degraded) this.onError(err);
      this.degraded = true;
      return this.fallback.increment(key, ttl, limit, blockDuration, throttlerName);
    }
    this.degraded = false;
    const [hits, leftMs] = answer as [number, number];
    const isBlocked = hits > limit;
    const left = Math.max(1, Math.ceil(leftMs / 1000));
    return { totalHits: hits, timeToExpire: left, isBlocked, timeToBlockExpire: isBlocked ? left : 0 };
  }
}
