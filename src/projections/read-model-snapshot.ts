import type { Redis } from 'ioredis';
import type { Projection } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';

/** One read-model key as stored: a JSON record, or a sorted-set index (member → score). */
export type StoredValue =
  | { type: 'string'; value: string }
  | { type: 'zset'; members: Record<string, number> }
  | { type: 'other'; redisType: string };

/** relative key (`vm:<id>`) → value. */
export type ReadModelSnapshot = Map<string, StoredValue>;

const escapeGlob = (s: string): string => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

/** Every key of `projection` in a namespace (full key names), found with SCAN so a shared Redis is never blocked. */
export async function listOwnedKeys(redis: Redis, keys: ReadModelKeys, projection: Projection): Promise<string[]> {
  return (await listKeysOfEach(redis, keys, [projection])).get(projection.name) ?? [];
}

/**
 * The keys of each of `projections` in a namespace (full names, by projection name), from one
 * SCAN pass: a pass walks the whole keyspace (every other namespace, the queues) whatever it
 * matches, so read models listed together cost one walk instead of one each. One read model
 * alone keeps its own pattern, which lets Redis skip the other read models' keys.
 */
export async function listKeysOfEach(
  redis: Redis,
  keys: ReadModelKeys,
  projections: Projection[],
): Promise<Map<string, string[]>> {
  const found = new Map<string, Set<string>>(projections.map((p) => [p.name, new Set()]));
  const pattern = projections.length === 1 ? (projections[0]!.keyPattern ?? '*') : '*';
  const match = `${escapeGlob(keys.root)}${pattern}`;
  let cursor = '0';
  do {
    // A scan step walks COUNT slots of the whole keyspace whatever matches: fewer, larger steps.
    const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 5000);
    cursor = next;
    for (const k of batch) {
      const relative = keys.relative(k);
      for (const p of projections) if (p.owns(relative)) found.get(p.name)!.add(k);
    }
  } while (cursor !== '0');
  return new Map([...found].map(([name, set]) => [name, [...set]]));
}

/** What a reader expects a key to hold, when it knows (a replay's fold does): saves a TYPE per key. */
export type TypeHint = (relativeKey: string) => 'string' | 'zset' | undefined;

/**
 * A live key as read for a comparison, before anything is built from it: a record's
 * bytes, an index as Redis lists it (member, score, member, score, …), or another type.
 * A consistent index is compared with the replay's members straight from the list.
 */
export type RawValue =
  { type: 'string'; value: string } | { type: 'zset'; flat: string[] } | { type: 'other'; redisType: string };

/** relative key → value as read. */
export type RawSnapshot = Map<string, RawValue>;

/** Keys per MGET: one command and one reply array per chunk instead of one per key. */
const MGET_KEYS = 1000;

/** The value as a snapshot holds it (an index's list as member → score). */
export function toStoredValue(v: RawValue): StoredValue {
  if (v.type !== 'zset') return v;
  const members: Record<string, number> = {};
  for (let m = 0; m < v.flat.length; m += 2) members[v.flat[m]!] = Number(v.flat[m + 1]);
  return { type: 'zset', members };
}

/**
 * Reads every key of `projection` in a namespace. With a hint, a key is read as
 * the hint says in one round trip; a key the hint does not know, or got wrong,
 * is asked its TYPE first.
 */
export async function readSnapshot(
  redis: Redis,
  keys: ReadModelKeys,
  projection: Projection,
  hint?: TypeHint,
): Promise<ReadModelSnapshot> {
  const snapshot: ReadModelSnapshot = new Map();
  for (const [k, v] of await readRawSnapshot(redis, keys, projection, hint)) snapshot.set(k, toStoredValue(v));
  return snapshot;
}

/**
 * readSnapshot without building anything from the replies. Records are read
 * with MGETs of MGET_KEYS and indexes with ZRANGEs, all in one pipeline; an MGET
 * answers nil for a key that is gone or holds another type, and a ZRANGE fails
 * with WRONGTYPE: those keys (and the ones the hint does not know) are asked
 * their TYPE and read again as what they are. `listed`, the key names when the
 * caller knows them, saves the scan; a name of a key that is gone is left out.
 * The hint may be the types already asked of it, one per name of `listed`.
 */
export async function readRawSnapshot(
  redis: Redis,
  keys: ReadModelKeys,
  projection: Projection,
  hint?: TypeHint | ReadonlyArray<'string' | 'zset' | undefined>,
  listed?: string[],
): Promise<RawSnapshot> {
  const names = listed ?? (await listOwnedKeys(redis, keys, projection));
  // Types given as a list (one per listed name, asked of the hint beforehand): nothing to ask here.
  const given = Array.isArray(hint) && listed ? hint : undefined;
  const ask = typeof hint === 'function' ? hint : undefined;
  const snapshot: RawSnapshot = new Map();
  const known: string[] = [];
  const knownTypes: string[] = [];
  const unknown: string[] = [];
  for (const [j, k] of names.entries()) {
    const t = given ? given[j] : ask?.(keys.relative(k));
    if (t === undefined) unknown.push(k);
    else {
      known.push(k);
      knownTypes.push(t);
    }
  }
  const recheck = [...unknown, ...(await readValues(redis, keys, known, knownTypes, snapshot))];
  if (recheck.length === 0) return snapshot;
  // A key that changed type again between TYPE and its read is left out, as one deleted meanwhile.
  await readValues(redis, keys, recheck, await readTypes(redis, recheck), snapshot);
  return snapshot;
}

async function readTypes(redis: Redis, names: string[]): Promise<string[]> {
  const types = (await redis.pipeline(names.map((k) => ['type', k])).exec()) ?? [];
  return names.map((_, j) => String(types[j]?.[1] ?? 'none'));
}

/**
 * Reads `names` as `types` says into `snapshot`; returns the keys to ask their
 * TYPE: a record MGET found nil (gone, or another type) and an index that holds
 * another type.
 */
async function readValues(
  redis: Redis,
  keys: ReadModelKeys,
  names: string[],
  types: string[],
  snapshot: RawSnapshot,
): Promise<string[]> {
  const strings: string[] = [];
  const zsets: string[] = [];
  names.forEach((k, j) => {
    const t = types[j]!;
    if (t === 'string') strings.push(k);
    else if (t === 'zset') zsets.push(k);
    else if (t !== 'none') snapshot.set(keys.relative(k), { type: 'other', redisType: t });
  });
  if (strings.length === 0 && zsets.length === 0) return [];
  const reads = redis.pipeline();
  for (let i = 0; i < strings.length; i += MGET_KEYS) reads.mget(strings.slice(i, i + MGET_KEYS));
  for (const k of zsets) reads.zrange(k, 0, -1, 'WITHSCORES');
  const replies = (await reads.exec()) ?? [];
  const wrong: string[] = [];
  let r = 0;
  for (let i = 0; i < strings.length; i += MGET_KEYS, r++) {
    const [err, v] = replies[r] ?? [new Error('no reply'), null];
    if (err) throw err;
    const values = v as Array<string | null>;
    for (let j = 0; j < values.length; j++) {
      const k = strings[i + j]!;
      const value = values[j];
      if (value === null || value === undefined) wrong.push(k);
      else snapshot.set(keys.relative(k), { type: 'string', value });
    }
  }
  for (const k of zsets) {
    const [err, v] = replies[r++] ?? [new Error('no reply'), null];
    if (err) {
      if (/^WRONGTYPE/.test(err.message)) wrong.push(k);
      else throw err;
      continue;
    }
    const flat = v as string[];
    // Redis holds no empty sorted set: none here is a key deleted between SCAN and read.
    if (flat.length) snapshot.set(keys.relative(k), { type: 'zset', flat });
  }
  return wrong;
}
