import type { Redis } from 'ioredis';
import { newestWithRecords } from './index-records.js';

export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Index entries looked at for one page at most; past it a short page with a `next` cursor is returned. */
export const LIST_SCAN_BUDGET = 20000;
const MAX_BATCH = 500;

/**
 * How many index entries to fetch next. The first fetch is the page plus one (the
 * one that tells whether there is a next page), enough whenever the filter keeps
 * everything, which is the common list; each further fetch doubles, up to
 * MAX_BATCH, so a filter that keeps little still costs few round trips. Under load
 * a fixed batch of 500 for a page of 20 made parsing records nobody asked for the
 * largest cost of a list.
 */
export function nextBatch(previous: number | undefined, limit: number): number {
  return Math.min(MAX_BATCH, previous === undefined ? limit + 1 : previous * 2);
}

export async function raws(redis: Redis, keys: string[]): Promise<Array<string | null>> {
  return keys.length === 0 ? [] : redis.mget(keys);
}

/**
 * The record `raw` holds, if `keep` accepts it; a record whose key is gone (null) is never kept. `parsed`:
 * the same record already parsed (what the runner committed under the key, as new as `raw` or newer),
 * which saves the parse.
 */
export async function keptRecord<T>(
  raw: string | null | undefined,
  keep: (r: T) => boolean | Promise<boolean>,
  parsed?: T,
): Promise<T | undefined> {
  if (raw == null) return undefined;
  const r = parsed ?? (JSON.parse(raw) as T);
  return (await keep(r)) ? r : undefined;
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
  for (
    let batch = nextBatch(undefined, limit);
    offset - cursor < budget;
    offset += batch, batch = nextBatch(batch, limit)
  ) {
    const ids = await redis.zrange(index, offset, offset + batch - 1);
    const recs = await raws(redis, ids.map(toKey));
    for (let i = 0; i < recs.length; i++) {
      // Parsed one by one: the records past the page are never parsed.
      const r = await keptRecord(recs[i], keep);
      if (r === undefined) continue;
      if (items.length === limit) return { items, next: String(offset + i) };
      items.push(r);
    }
    if (ids.length < batch) return { items, next: null };
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
  for (
    let batch = nextBatch(undefined, limit), scanned = 0;
    scanned < budget;
    scanned += batch, batch = nextBatch(batch, limit)
  ) {
    // The entries and their records in one round trip (index-records.ts).
    const { ids, scores, raws: recs } = await newestWithRecords(redis, index, toKey, max, batch);
    for (let i = 0; i < recs.length; i++) {
      const r = await keptRecord(recs[i], keep);
      if (r === undefined) continue;
      if (items.length === limit) return { items, next: lastKept! };
      items.push(r);
      lastKept = scores[i];
    }
    if (ids.length < batch) return { items, next: null };
    max = `(${scores[scores.length - 1]}`;
  }
  // Out of budget: resume below the last entry looked at.
  return { items, next: max.slice(1) };
}
