import type { Redis } from 'ioredis';

export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Index entries looked at for one page at most; past it a short page with a `next` cursor is returned. */
export const LIST_SCAN_BUDGET = 20000;
const BATCH = 500;

async function records<T>(redis: Redis, keys: string[]): Promise<Array<T | undefined>> {
  if (keys.length === 0) return [];
  const raws = await redis.mget(keys);
  return raws.map((r) => (r == null ? undefined : (JSON.parse(r) as T)));
}

/**
 * Oldest first (index order), keeping the records `keep` accepts. The cursor is
 * an offset into the index, which only grows at its end, so pages never skip or
 * repeat a record; `next` is the offset of the first match not returned.
 */
export async function scanOldestFirst<T>(
  redis: Redis,
  index: string,
  toKey: (id: string) => string,
  keep: (r: T) => boolean | Promise<boolean>,
  cursor: number,
  limit: number,
  budget = LIST_SCAN_BUDGET,
): Promise<Page<T>> {
  const items: T[] = [];
  let offset = cursor;
  for (; offset - cursor < budget; offset += BATCH) {
    const ids = await redis.zrange(index, offset, offset + BATCH - 1);
    const recs = await records<T>(redis, ids.map(toKey));
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r === undefined || !(await keep(r))) continue;
      if (items.length === limit) return { items, next: String(offset + i) };
      items.push(r);
    }
    if (ids.length < BATCH) return { items, next: null };
  }
  // Out of budget: resume at the first entry not looked at.
  return { items, next: String(offset) };
}

/**
 * Newest first (highest score first), keeping the records `keep` accepts. New
 * entries arrive at the top while a client pages down, so the cursor is a score
 * (the log position that opened the record), not an offset: the next page starts
 * strictly below it and never repeats a record.
 */
export async function scanNewestFirst<T>(
  redis: Redis,
  index: string,
  toKey: (id: string) => string,
  keep: (r: T) => boolean | Promise<boolean>,
  cursor: number,
  limit: number,
  budget = LIST_SCAN_BUDGET,
): Promise<Page<T>> {
  const items: T[] = [];
  let max = cursor > 0 ? `(${cursor}` : '+inf';
  let lastKept: string | undefined;
  for (let scanned = 0; scanned < budget; scanned += BATCH) {
    const flat = await redis.zrevrangebyscore(index, max, '-inf', 'WITHSCORES', 'LIMIT', 0, BATCH);
    const ids = flat.filter((_, i) => i % 2 === 0);
    const scores = flat.filter((_, i) => i % 2 === 1);
    const recs = await records<T>(redis, ids.map(toKey));
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (r === undefined || !(await keep(r))) continue;
      if (items.length === limit) return { items, next: lastKept! };
      items.push(r);
      lastKept = scores[i];
    }
    if (ids.length < BATCH) return { items, next: null };
    max = `(${scores[scores.length - 1]}`;
  }
  // Out of budget: resume below the last entry looked at.
  return { items, next: max.slice(1) };
}
