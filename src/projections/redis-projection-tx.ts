import type { Redis } from 'ioredis';
import type { ProjectionTx } from './projection.js';
import { FencedCommits, type CommitFence, type FencedPage } from './fenced-commits.js';

export type { CommitFence } from './fenced-commits.js';

/** What `undo` remembers for a key the transaction had not written yet. */
const UNWRITTEN = Symbol('unwritten');

/** A key the transaction deletes (its value in `values`); reads see it absent. */
export const DELETED = Symbol('deleted');

/**
 * Buffers a page's writes; `commit` applies them and the checkpoint in one
 * MULTI/EXEC. Values stay objects until the commit serialises each key once:
 * a host record with thousands of allocations touched by every event of a page
 * is parsed and stringified once per page, not once per event. Projections
 * never mutate what they read (they fold with pure evolve functions), which is
 * what makes handing out the same object safe.
 */
export class RedisProjectionTx implements ProjectionTx {
  protected readonly values = new Map<string, unknown>();
  /** Index writes in order; a null score takes the member out (zrem). */
  private readonly indexes: Array<[string, number | null, string]> = [];
  private undo: Array<[string, unknown]> | undefined;
  private indexesAtMark = 0;

  constructor(protected readonly redis: Redis) {}

  async get<T>(key: string): Promise<T | undefined> {
    if (this.values.has(key)) {
      const v = this.values.get(key);
      return v === DELETED ? undefined : (v as T);
    }
    return (await this.readStored(key)) as T | undefined;
  }

  /** A value as committed before this transaction (parsed), undefined when absent. */
  protected async readStored(key: string): Promise<unknown> {
    const raw = await this.redis.get(key);
    return raw == null ? undefined : (JSON.parse(raw) as unknown);
  }

  set(key: string, value: unknown): void {
    this.undo?.push([key, this.values.has(key) ? this.values.get(key) : UNWRITTEN]);
    this.values.set(key, value);
  }

  del(key: string): void {
    this.set(key, DELETED);
  }

  index(key: string, score: number, member: string): void {
    this.indexes.push([key, score, member]);
  }

  unindex(key: string, member: string): void {
    this.indexes.push([key, null, member]);
  }

  /**
   * Starts remembering what the next writes replace, so that rollback() can
   * forget one event's writes (a poison event) while keeping the page's others.
   */
  mark(): void {
    this.undo = [];
    this.indexesAtMark = this.indexes.length;
  }

  rollback(): void {
    for (const [key, previous] of (this.undo ?? []).reverse()) {
      if (previous === UNWRITTEN) this.values.delete(key);
      else this.values.set(key, previous);
    }
    this.indexes.length = this.indexesAtMark;
    this.undo = [];
  }

  async commit(checkpointKey: string, position: bigint, fence?: CommitFence): Promise<void> {
    if (fence) return this.commitFenced(checkpointKey, position, fence);
    const multi = this.redis.multi();
    for (const [k, v] of this.values) {
      if (v === DELETED) multi.del(k);
      else multi.set(k, JSON.stringify(v));
    }
    for (const [k, score, member] of this.indexes) {
      if (score === null) multi.zrem(k, member);
      else multi.zadd(k, score, member);
    }
    multi.set(checkpointKey, position.toString());
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('projection transaction aborted');
  }

  /**
   * The same writes in one script that first checks the fence (all or nothing, like the MULTI),
   * sent with the other live runners' pages of the same turn (FencedCommits).
   */
  private commitFenced(checkpointKey: string, position: bigint, fence: CommitFence): Promise<void> {
    const page: FencedPage = { sets: [], indexes: this.indexes, checkpoint: [checkpointKey, position.toString()] };
    // '' is no JSON text: the script reads it as "delete the key".
    for (const [k, v] of this.values) page.sets.push([k, v === DELETED ? '' : JSON.stringify(v)]);
    return FencedCommits.of(this.redis).commit(page, fence);
  }
}
