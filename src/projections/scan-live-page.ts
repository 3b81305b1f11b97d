import type { Redis } from 'ioredis';
import { RedisScript } from './redis-script.js';
import { MGET_CHUNKED, prefixOf } from './index-records.js';
import { keptRecord, LIST_SCAN_BUDGET, nextBatch, type Page } from './scan-page.js';

/** The `vms` index, its live subset (same members' scores) and the live indexes' format record. */
export interface LiveIndexKeys {
  index: string;
  live: string;
  format: string;
}

/**
 * Up to ARGV[2] members of the live index from offset ARGV[1] of the whole index on, the offset in the
 * whole index of the last of them (-1 when it is missing there), and their records: {ids, last, records}.
 * The live index holds the same members with the same scores (the position that created each), less the
 * deleted ones, so the first live member at or after that offset is the first with a score at or above
 * the score there. Only the last member's offset is read: it is where the next batch starts and, when the
 * page ends on it (a page read in one batch, the common list), the page's `next`; another member that ends
 * a page has its offset asked for then (one ZRANK each instead of one per member). Nil when the live index
 * is not complete (a read model from before it, not rebuilt: its format's `all` count differs from the whole
 * index's size), checked in the same atomic call. The records are read from prefix ARGV[3] (see
 * index-records.ts): one round trip for the ids and the records. KEYS: index, live index, format record.
 */
const LIVE_PAGE = new RedisScript(`${MGET_CHUNKED}
local size = redis.call('zcard', KEYS[1])
if size == 0 then return {{}, -1, {}} end
local format = redis.call('get', KEYS[3])
local all = format and tonumber(string.match(format, '"all":(%d+)'))
if all ~= size then return false end
local first = redis.call('zrange', KEYS[1], ARGV[1], ARGV[1], 'WITHSCORES')
if #first == 0 then return {{}, -1, {}} end
local ids = redis.call('zrangebyscore', KEYS[2], first[2], '+inf', 'LIMIT', 0, ARGV[2])
if #ids == 0 then return {{}, -1, {}} end
return {ids, redis.call('zrank', KEYS[1], ids[#ids]) or -1, records(ARGV[3], ids)}`);

export interface LiveScanOptions<T> {
  /** Index entries looked at for one page at most (see LIST_SCAN_BUDGET). */
  budget?: number;
  /** A member's record as this process already holds it parsed (the runner's committed value), if it does. */
  known?: (id: string) => T | undefined;
}

/**
 * The page scanOldestFirst would give for a filter that hides deleted VMs — the same items and the
 * same `next` (an offset into the whole index, so a cursor reads the same whichever scan made it)
 * — read from the live index: the deleted VMs are neither fetched nor parsed. Under churn they
 * pile up at the old end of the index, where every first page starts: with most of the oldest
 * VMs deleted a page of 50 read and parsed hundreds of records in several round trips each.
 * Undefined when the live index is not complete: the caller scans the whole index.
 */
export async function scanLiveOldestFirst<T>(
  redis: Redis,
  keys: LiveIndexKeys,
  toKey: (id: string) => string,
  keep: (r: T) => boolean | Promise<boolean>,
  cursor: number,
  limit: number,
  { budget = LIST_SCAN_BUDGET, known }: LiveScanOptions<T> = {},
): Promise<Page<T> | undefined> {
  const items: T[] = [];
  let offset = cursor;
  for (
    let batch = nextBatch(undefined, limit), looked = 0;
    looked < budget;
    looked += batch, batch = nextBatch(batch, limit)
  ) {
    const reply = (await LIVE_PAGE.run(
      redis,
      [keys.index, keys.live, keys.format],
      [offset, batch, prefixOf(toKey)],
    )) as [string[], number, Array<string | null>] | null;
    if (reply === null) return undefined;
    const [ids, last, recs] = reply;
    // A live member missing from the whole index cannot be placed by offset: scan the whole index.
    if (ids.length > 0 && last < 0) return undefined;
    for (let i = 0; i < recs.length; i++) {
      const r = await keptRecord(recs[i], keep, known?.(ids[i]!));
      if (r === undefined) continue;
      if (items.length === limit) {
        const next = i === ids.length - 1 ? last : await redis.zrank(keys.index, ids[i]!);
        return next === null ? undefined : { items, next: String(next) };
      }
      items.push(r);
    }
    if (ids.length < batch) return { items, next: null };
    offset = last + 1;
  }
  // Out of budget: resume at the first entry not looked at.
  return { items, next: String(offset) };
}
