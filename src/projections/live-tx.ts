import type { Redis } from 'ioredis';
import type { RecordCache } from './record-cache.js';
import { DELETED, RedisProjectionTx, type CommitFence } from './redis-projection-tx.js';

/**
 * A live page's writes. Reads are answered from the runner's cache of what it
 * committed before, then from Redis; the cache learns the page's writes only
 * once its MULTI succeeded, so a failed or retried page never leaves a value
 * in memory that Redis does not hold.
 */
export class LiveTx extends RedisProjectionTx {
  constructor(
    redis: Redis,
    private readonly cache: RecordCache,
  ) {
    super(redis);
  }

  protected override async readStored(key: string): Promise<unknown> {
    const hit = this.cache.get(key);
    if (hit !== undefined || this.cache.complete) return hit;
    const stored = await super.readStored(key);
    if (stored !== undefined) this.cache.set(key, stored);
    return stored;
  }

  override async commit(checkpointKey: string, position: bigint, fence?: CommitFence): Promise<void> {
    await super.commit(checkpointKey, position, fence);
    for (const [k, v] of this.values) {
      if (v === DELETED) this.cache.delete(k);
      else this.cache.set(k, v);
    }
  }
}
