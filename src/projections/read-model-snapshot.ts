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
    const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    for (const k of batch) if (projection.owns(keys.relative(k))) out.push(k);
  } while (cursor !== '0');
  return [...new Set(out)];
}

/** Reads every key of `projection` in a namespace, in pipelined chunks. */
export async function readSnapshot(
  redis: Redis,
  keys: ReadModelKeys,
  projection: Projection,
): Promise<ReadModelSnapshot> {
  const names = await listOwnedKeys(redis, keys, projection);
  const snapshot: ReadModelSnapshot = new Map();
  for (let i = 0; i < names.length; i += 500) {
    const chunk = names.slice(i, i + 500);
    const types = (await redis.pipeline(chunk.map((k) => ['type', k])).exec()) ?? [];
    const reads = redis.pipeline();
    chunk.forEach((k, j) => {
      const t = types[j]?.[1];
      if (t === 'string') reads.get(k);
      else if (t === 'zset') reads.zrange(k, 0, -1, 'WITHSCORES');
      else reads.type(k);
    });
    const values = (await reads.exec()) ?? [];
    chunk.forEach((k, j) => {
      const t = String(types[j]?.[1] ?? 'none');
      const [err, v] = values[j] ?? [new Error('no reply'), null];
      if (err) throw err;
      if (t === 'none') return; // deleted between SCAN and read
      const rel = keys.relative(k);
      if (t === 'string') snapshot.set(rel, { type: 'string', value: String(v) });
      else if (t === 'zset') {
        const flat = v as string[];
        const members: Record<string, number> = {};
        for (let m = 0; m < flat.length; m += 2) members[flat[m]!] = Number(flat[m + 1]);
        snapshot.set(rel, { type: 'zset', members });
      } else snapshot.set(rel, { type: 'other', redisType: t });
    });
  }
  return snapshot;
}
