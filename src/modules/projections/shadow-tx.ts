import type { Redis } from 'ioredis';
import type { ProjectionTx } from './projection.js';

/** Records a shadow keeps in memory at most; beyond it reads go to Redis (slower, bounded memory). */
export const SHADOW_CACHE_LIMIT = 200_000;

/**
 * The writes of a page of events into a shadow namespace. A shadow starts
 * empty and has one writer, so what it wrote is all there is: reads are
 * answered from memory (a miss means "absent") instead of a Redis round trip
 * per key, which is most of the cost of a replay. Past the cache limit it
 * falls back to reading Redis.
 */
export class ShadowTx implements ProjectionTx {
  private readonly values = new Map<string, string>();
  private readonly indexes: Array<[string, number, string]> = [];

  constructor(
    private readonly redis: Redis,
    private readonly known: Map<string, string> | undefined,
  ) {}

  async get<T>(key: string): Promise<T | undefined> {
    const raw = this.values.get(key) ?? (this.known ? this.known.get(key) : await this.redis.get(key));
    return raw == null ? undefined : (JSON.parse(raw) as T);
  }

  set(key: string, value: unknown): void {
    this.values.set(key, JSON.stringify(value));
  }

  index(key: string, score: number, member: string): void {
    this.indexes.push([key, score, member]);
  }

  async commit(checkpointKey: string, position: bigint): Promise<void> {
    const multi = this.redis.multi();
    for (const [k, v] of this.values) multi.set(k, v);
    for (const [k, score, member] of this.indexes) multi.zadd(k, score, member);
    multi.set(checkpointKey, position.toString());
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('shadow transaction aborted');
    if (this.known) for (const [k, v] of this.values) this.known.set(k, v);
  }
}
