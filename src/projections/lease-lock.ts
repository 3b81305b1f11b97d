import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * A Redis lease: one holder across every process sharing the Redis, renewed
 * while held, and expiring on its own when the holder dies (so a crashed
 * rebuild cannot block the next one forever).
 */
export class LeaseLock {
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly redis: Redis,
    readonly key: string,
    readonly holder: string,
    ttlMs: number,
  ) {
    this.timer = setInterval(
      () => void this.redis.eval(RENEW, 1, key, holder, ttlMs).catch(() => undefined),
      ttlMs / 3,
    );
    this.timer.unref();
  }

  /**
   * The lock, or who holds it after `waitMs`: a holder that is just finishing
   * (its operation already reads as done, the release a moment behind) is
   * waited for rather than answered with a conflict.
   */
  static async acquire(
    redis: Redis,
    key: string,
    holder: string,
    { ttlMs = 30_000, waitMs = 1000 }: { ttlMs?: number; waitMs?: number } = {},
  ): Promise<{ lock: LeaseLock } | { heldBy: string }> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const ok = await redis.set(key, holder, 'PX', ttlMs, 'NX');
      if (ok === 'OK') return { lock: new LeaseLock(redis, key, holder, ttlMs) };
      if (Date.now() >= deadline) return { heldBy: (await redis.get(key)) ?? 'another process' };
      await sleep(50);
    }
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.redis.eval(RELEASE, 1, this.key, this.holder).catch(() => undefined);
  }
}

/** Takes every lock or none: on the first refusal the ones taken are released. */
export async function acquireAll(
  redis: Redis,
  keys: string[],
  holder: string,
): Promise<{ locks: LeaseLock[] } | { heldBy: string; key: string }> {
  const locks: LeaseLock[] = [];
  for (const key of keys) {
    const r = await LeaseLock.acquire(redis, key, holder);
    if ('heldBy' in r) {
      await Promise.all(locks.map((l) => l.release()));
      return { heldBy: r.heldBy, key };
    }
    locks.push(r.lock);
  }
  return { locks };
}
