import type { Redis } from 'ioredis';
import type { ProjectionTx } from './projection.js';

/** Buffers one event's writes; `commit` applies them and the checkpoint in one MULTI/EXEC. */
export class RedisProjectionTx implements ProjectionTx {
  protected readonly values = new Map<string, string>();
  private readonly indexes: Array<[string, number, string]> = [];
  private undo: Array<[string, string | undefined]> | undefined;
  private indexesAtMark = 0;

  constructor(protected readonly redis: Redis) {}

  async get<T>(key: string): Promise<T | undefined> {
    const raw = this.values.get(key) ?? (await this.readStored(key));
    return raw == null ? undefined : (JSON.parse(raw) as T);
  }

  /** A value as committed before this transaction. */
  protected readStored(key: string): Promise<string | null | undefined> {
    return this.redis.get(key);
  }

  set(key: string, value: unknown): void {
    this.undo?.push([key, this.values.get(key)]);
    this.values.set(key, JSON.stringify(value));
  }

  index(key: string, score: number, member: string): void {
    this.indexes.push([key, score, member]);
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
      if (previous === undefined) this.values.delete(key);
      else this.values.set(key, previous);
    }
    this.indexes.length = this.indexesAtMark;
    this.undo = [];
  }

  async commit(checkpointKey: string, position: bigint): Promise<void> {
    const multi = this.redis.multi();
    for (const [k, v] of this.values) multi.set(k, v);
    for (const [k, score, member] of this.indexes) multi.zadd(k, score, member);
    multi.set(checkpointKey, position.toString());
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('projection transaction aborted');
  }
}
