import type { Redis } from 'ioredis';
import { RedisScript } from './redis-script.js';

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

/** One runner's page, serialised: keys to set ('' = delete), index writes in order, and its checkpoint. */
export interface FencedPage {
  sets: Array<[string, string]>;
  /** A null score takes the member out (zrem). */
  indexes: Array<[string, number | null, string]>;
  checkpoint: [key: string, position: string];
}

/**
 * The fence first, before any write (a refusal writes nothing); then the sets in MSETs and
 * the deletes in DELs, by chunks (the keys of one call are distinct: one entry per key in a
 * page, and read models own disjoint keys), then the index writes in order, consecutive ones
 * on the same key and of the same kind in one ZADD/ZREM (ZADD keeps the last score given);
 * the checkpoints last, in one MSET: a write Redis refuses (WRONGTYPE) stops the script
 * before any checkpoint moves, so no page is ever marked applied without all its writes.
 * KEYS: fence, sets, indexes, checkpoints; ARGV: fence value, #sets, #indexes, set values,
 * (score|'-', member) per index write, checkpoint positions.
 */
const FENCED_COMMIT = new RedisScript(`
if redis.call('get', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED: this process no longer owns the control-plane lease')
end
local nsets, nidx = tonumber(ARGV[2]), tonumber(ARGV[3])
local sets, dels = {}, {}
for i = 1, nsets do
  if ARGV[3 + i] == '' then dels[#dels + 1] = KEYS[1 + i] else
    sets[#sets + 1] = KEYS[1 + i]
    sets[#sets + 1] = ARGV[3 + i]
  end
  if #sets >= 1000 then redis.call('mset', unpack(sets)); sets = {} end
  if #dels >= 500 then redis.call('del', unpack(dels)); dels = {} end
end
if #sets > 0 then redis.call('mset', unpack(sets)) end
if #dels > 0 then redis.call('del', unpack(dels)) end
local run, runKey, runAdd = {}, nil, nil
local function flush()
  if #run == 0 then return end
  if runAdd then redis.call('zadd', runKey, unpack(run)) else redis.call('zrem', runKey, unpack(run)) end
  run = {}
end
for j = 1, nidx do
  local key = KEYS[1 + nsets + j]
  local a = 3 + nsets + (j - 1) * 2 + 1
  local add = ARGV[a] ~= '-'
  if key ~= runKey or add ~= runAdd or #run >= 1000 then flush(); runKey = key; runAdd = add end
  if add then run[#run + 1] = ARGV[a] end
  run[#run + 1] = ARGV[a + 1]
end
flush()
local checkpoints = {}
for c = 2 + nsets + nidx, #KEYS do
  checkpoints[#checkpoints + 1] = KEYS[c]
  checkpoints[#checkpoints + 1] = ARGV[c + 2 + nidx]
  if #checkpoints >= 1000 then redis.call('mset', unpack(checkpoints)); checkpoints = {} end
end
if #checkpoints > 0 then redis.call('mset', unpack(checkpoints)) end
return 1`);

interface Pending {
  page: FencedPage;
  fence: CommitFence;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const byClient = new WeakMap<Redis, FencedCommits>();

/**
 * The fenced commits of every live runner of a process, sent together: the runners are woken
 * by the same appends and read the same shared tail, so their pages for one wake-up come due
 * within the same turn of the event loop. Each used to cost a script call (its fence check
 * and checkpoint SET with it), five per wake-up, most of them for read models that the page
 * does not touch; gathered, a wake-up costs one call, and a page a read model ignores adds
 * only its checkpoint to it. Every page of a call lands under the same fence check, all or
 * nothing: the fence is as strong as before, and a refusal is every page's refusal.
 */
export class FencedCommits {
  private queue: Pending[] = [];
  /** Script calls sent and pages they carried (tests, bench). */
  readonly stats = { calls: 0, pages: 0 };

  private constructor(private readonly redis: Redis) {}

  /** One batcher per connection: the runners sharing a connection share its calls. */
  static of(redis: Redis): FencedCommits {
    let commits = byClient.get(redis);
    if (!commits) {
      commits = new FencedCommits(redis);
      byClient.set(redis, commits);
    }
    return commits;
  }

  /** Resolves once the page (its writes and its checkpoint) is in Redis; rejects with what refused it. */
  commit(page: FencedPage, fence: CommitFence): Promise<void> {
    return new Promise((resolve, reject) => {
      // setImmediate, not a microtask: a runner that read one record from Redis still joins this turn's call.
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ page, fence, resolve, reject });
    });
  }

  private flush(): void {
    const queue = this.queue;
    this.queue = [];
    // One tenure per process at a time; two fences in one turn (a lease re-taken) go in separate calls.
    const groups = new Map<string, Pending[]>();
    for (const p of queue) {
      const id = `${p.fence.key}\n${p.fence.value}`;
      const group = groups.get(id);
      if (group) group.push(p);
      else groups.set(id, [p]);
    }
    for (const group of groups.values()) void this.send(group);
  }

  private async send(group: Pending[]): Promise<void> {
    try {
      await this.run(group);
      for (const p of group) p.resolve();
    } catch (err) {
      if (group.length === 1 || isFenced(err)) {
        for (const p of group) p.reject(err);
        return;
      }
      // One read model's page that Redis refuses (a key of the wrong type, say) must not hold the
      // others back: each page goes again alone. Every write is a SET/DEL/ZADD/ZREM of a value
      // the page fixed, so what part of the failed call landed is written again unchanged.
      for (const p of group) {
        this.run([p]).then(p.resolve, p.reject);
      }
    }
  }

  private async run(group: Pending[]): Promise<void> {
    const fence = group[0]!.fence;
    const setKeys: string[] = [];
    const setValues: string[] = [];
    const indexKeys: string[] = [];
    const indexArgs: string[] = [];
    const checkpointKeys: string[] = [];
    const positions: string[] = [];
    for (const { page } of group) {
      checkpointKeys.push(page.checkpoint[0]);
      positions.push(page.checkpoint[1]);
      for (const [k, v] of page.sets) {
        setKeys.push(k);
        setValues.push(v);
      }
      for (const [k, score, member] of page.indexes) {
        indexKeys.push(k);
        indexArgs.push(score === null ? '-' : String(score), member);
      }
    }
    this.stats.calls++;
    this.stats.pages += group.length;
    // By digest: the script's text is not sent once per call (RedisScript).
    await FENCED_COMMIT.run(
      this.redis,
      [fence.key, ...setKeys, ...indexKeys, ...checkpointKeys],
      [fence.value, String(setKeys.length), String(indexKeys.length), ...setValues, ...indexArgs, ...positions],
    );
  }
}

function isFenced(err: unknown): boolean {
  return err instanceof Error && err.message.includes('FENCED');
}
