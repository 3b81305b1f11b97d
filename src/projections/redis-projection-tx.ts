import type { Redis } from 'ioredis';
import type { ProjectionTx } from './projection.js';

/**
 * Who may commit: `key` (the control-plane lease) must still hold `value` (the
 * owner's holder and fencing token) when the writes land, checked in the same
 * script that writes them. A process that lost its lease while a page was in
 * flight (paused past the TTL, say) cannot write stale records over the new owner's.
 */
export interface CommitFence {
  key: string;
  value: string;
}

const FENCED_COMMIT = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED: this process no longer owns the control-plane lease')
end
local nsets = tonumber(ARGV[2])
for i = 1, nsets do redis.call('set', KEYS[1 + i], ARGV[2 + i]) end
local nidx = #KEYS - 2 - nsets
for j = 1, nidx do
  local a = 2 + nsets + (j - 1) * 2 + 1
  redis.call('zadd', KEYS[1 + nsets + j], ARGV[a], ARGV[a + 1])
end
redis.call('set', KEYS[#KEYS], ARGV[#ARGV])
return 1`;

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

  async commit(checkpointKey: string, position: bigint, fence?: CommitFence): Promise<void> {
    if (fence) return this.commitFenced(checkpointKey, position, fence);
    const multi = this.redis.multi();
    for (const [k, v] of this.values) multi.set(k, v);
    for (const [k, score, member] of this.indexes) multi.zadd(k, score, member);
    multi.set(checkpointKey, position.toString());
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('projection transaction aborted');
  }

  /** The same writes in one script that first checks the fence (all or nothing, like the MULTI). */
  private async commitFenced(checkpointKey: string, position: bigint, fence: CommitFence): Promise<void> {
    const keys = [fence.key];
    const args = [fence.value, String(this.values.size)];
    for (const [k, v] of this.values) {
      keys.push(k);
      args.push(v);
    }
    for (const [k, score, member] of this.indexes) {
      keys.push(k);
      args.push(String(score), member);
    }
    keys.push(checkpointKey);
    args.push(position.toString());
    await this.redis.eval(FENCED_COMMIT, keys.length, ...keys, ...args);
  }
}
