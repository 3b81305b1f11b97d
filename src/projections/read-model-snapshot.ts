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
  const out: string[] = [];
  let cursor = '0';
  do {
    const match = `${escapeGlob(keys.root)}${projection.keyPattern ?? '*'}`;
    // A scan step walks COUNT slots of the whole keyspace whatever matches: fewer, larger steps.
    const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 5000);
    cursor = next;
    for (const k of batch) if (projection.owns(keys.relative(k))) out.push(k);
  } while (cursor !== '0');
  return [...new Set(out)];
}

/** What a reader expects a key to hold, when it knows (a replay's fold does): saves a TYPE per key. */
export type TypeHint = (relativeKey: string) => 'string' | 'zset' | undefined;

const CHUNK = 500;

/**
 * Reads every key of `projection` in a namespace, in pipelined chunks. With a
 * hint, a key is read as the hint says in one round trip; a key the hint does
 * not know, or got wrong (WRONGTYPE), is asked its TYPE first.
 */
export async function readSnapshot(
  redis: Redis,
  keys: ReadModelKeys,
  projection: Projection,
  hint?: TypeHint,
): Promise<ReadModelSnapshot> {
  const names = await listOwnedKeys(redis, keys, projection);
  const snapshot: ReadModelSnapshot = new Map();
  for (let i = 0; i < names.length; i += CHUNK) {
    const chunk = names.slice(i, i + CHUNK);
    const guessed = hint ? chunk.map((k) => hint(keys.relative(k))) : [];
    const unknown = chunk.filter((_, j) => guessed[j] === undefined);
    const typed = unknown.length ? await readTypes(redis, unknown) : [];
    let u = 0;
    const types = chunk.map((_, j) => guessed[j] ?? typed[u++]!);
    const wrong = await readValues(redis, keys, chunk, types, snapshot);
    if (wrong.length) await readValues(redis, keys, wrong, await readTypes(redis, wrong), snapshot);
  }
  return snapshot;
}

async function readTypes(redis: Redis, names: string[]): Promise<string[]> {
  const types = (await redis.pipeline(names.map((k) => ['type', k])).exec()) ?? [];
  return names.map((_, j) => String(types[j]?.[1] ?? 'none'));
}

/** Reads `names` as `types` says into `snapshot`; returns the keys that turned out to hold another type. */
async function readValues(
  redis: Redis,
  keys: ReadModelKeys,
  names: string[],
  types: string[],
  snapshot: ReadModelSnapshot,
): Promise<string[]> {
  const reads = redis.pipeline();
  names.forEach((k, j) => {
    const t = types[j];
    if (t === 'string') reads.get(k);
    else if (t === 'zset') reads.zrange(k, 0, -1, 'WITHSCORES');
    else reads.type(k);
  });
  const values = (await reads.exec()) ?? [];
  const wrong: string[] = [];
  names.forEach((k, j) => {
    const t = types[j]!;
    const [err, v] = values[j] ?? [new Error('no reply'), null];
    if (err) {
      if (/^WRONGTYPE/.test(err.message)) return void wrong.push(k);
      throw err;
    }
    const rel = keys.relative(k);
    if (t === 'string') {
      if (v !== null) snapshot.set(rel, { type: 'string', value: String(v) });
    } else if (t === 'zset') {
      const flat = v as string[];
      const members: Record<string, number> = {};
      for (let m = 0; m < flat.length; m += 2) members[flat[m]!] = Number(flat[m + 1]);
      // Redis holds no empty sorted set: none here is a key deleted between SCAN and read.
      if (flat.length) snapshot.set(rel, { type: 'zset', members });
    } else if (t !== 'none') snapshot.set(rel, { type: 'other', redisType: t });
  });
  return wrong;
}
