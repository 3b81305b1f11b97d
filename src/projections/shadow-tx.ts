import type { Redis } from 'ioredis';
import { RedisProjectionTx } from './redis-projection-tx.js';

/** Records a shadow keeps in memory at most; beyond it reads go to Redis (slower, bounded memory). */
export const SHADOW_CACHE_LIMIT = 200_000;

/**
 * The writes of a page of events into a shadow namespace. A shadow starts
 * empty and has one writer, so what it wrote is all there is: reads are
 * answered from memory (a miss means "absent") instead of a Redis round trip
 * per key, which is most of the cost of a replay. Past the cache limit it
 * falls back to reading Redis.
 */
export class ShadowTx extends RedisProjectionTx {
  constructor(
    redis: Redis,
    private readonly known: Map<string, unknown> | undefined,
  ) {
    super(redis);
  }

  protected override readStored(key: string): Promise<unknown> {
    return this.known ? Promise.resolve(this.known.get(key)) : super.readStored(key);
  }

  override async commit(checkpointKey: string, position: bigint): Promise<void> {
    await super.commit(checkpointKey, position);
    if (this.known) for (const [k, v] of this.values) this.known.set(k, v);
  }
}
