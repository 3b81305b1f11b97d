import type { Redis } from 'ioredis';
import { RedisScript } from './redis-script.js';

/**
 * An index's entries and their records in one round trip. Reading the index, then MGET of the
 * records it names, was two round trips waited for in turn; under chaos `load` the loop is busy
 * all the time, so each wait for a reply is a wait for the loop, and `GET /v1/hosts` and
 * `GET /v1/operations` were the slowest reads after the VM list. Redis does the same work either
 * way; the script only saves the second trip. It reads the records from their keys' prefix
 * (ARGV[1]) plus each id, keys it is not given in KEYS: fine on one Redis (the read models' only
 * deployment), not on Redis Cluster.
 *
 * MGET in chunks: Lua's `unpack` is bounded by its C stack (about 8,000 values).
 */
export const MGET_CHUNKED = `
local function records(prefix, ids)
  local recs = {}
  for i = 1, #ids, 500 do
    local keys = {}
    for j = i, math.min(i + 499, #ids) do keys[#keys + 1] = prefix .. ids[j] end
    local got = redis.call('mget', unpack(keys))
    for j = 1, #keys do recs[i + j - 1] = got[j] end
  end
  return recs
end`;

/** {ids, records} of ZRANGE KEYS[1] ARGV[2] ARGV[3] (by rank, oldest first). */
const BY_RANK = new RedisScript(`${MGET_CHUNKED}
local ids = redis.call('zrange', KEYS[1], ARGV[2], ARGV[3])
return {ids, records(ARGV[1], ids)}`);

/** {id, score, id, score, …} and their records, of ZREVRANGEBYSCORE KEYS[1] ARGV[2] -inf LIMIT 0 ARGV[3]. */
const NEWEST_BY_SCORE = new RedisScript(`${MGET_CHUNKED}
local flat = redis.call('zrevrangebyscore', KEYS[1], ARGV[2], '-inf', 'WITHSCORES', 'LIMIT', 0, ARGV[3])
local ids = {}
for i = 1, #flat, 2 do ids[#ids + 1] = flat[i] end
return {flat, records(ARGV[1], ids)}`);

/** Entries of an index with their records; a record is null when its key is gone. */
export interface IndexRecords {
  ids: string[];
  /** The entries' scores, as Redis prints them (only from `newestWithRecords`). */
  scores: string[];
  raws: Array<string | null>;
}

/**
 * The key prefix of a record family: every record key is its family's prefix followed by the id
 * (`ReadModelKeys`: `<root>vm:<id>`, `<root>op:<id>`…), so the key of the empty id is the prefix.
 */
export function prefixOf(toKey: (id: string) => string): string {
  return toKey('');
}

/** Entries `start`..`stop` (ranks, inclusive, -1 the last) of `index`, oldest first, with their records. */
export async function rangeWithRecords(
  redis: Redis,
  index: string,
  toKey: (id: string) => string,
  start: number,
  stop: number,
): Promise<IndexRecords> {
  const [ids, raws] = (await BY_RANK.run(redis, [index], [prefixOf(toKey), start, stop])) as [
    string[],
    Array<string | null>,
  ];
  return { ids, scores: [], raws };
}

/** Up to `count` entries of `index` with a score at or below `max` (`(n` strictly below), highest first, with their records. */
export async function newestWithRecords(
  redis: Redis,
  index: string,
  toKey: (id: string) => string,
  max: string,
  count: number,
): Promise<IndexRecords> {
  const [flat, raws] = (await NEWEST_BY_SCORE.run(redis, [index], [prefixOf(toKey), max, count])) as [
    string[],
    Array<string | null>,
  ];
  const ids: string[] = [];
  const scores: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    ids.push(flat[i]!);
    scores.push(flat[i + 1]!);
  }
  return { ids, scores, raws };
}
