import { toStoredValue, type RawSnapshot, type ReadModelSnapshot, type StoredValue } from './read-model-snapshot.js';

export interface ReadModelDifference {
  readModel: string;
  /** Key relative to the read-model namespace, e.g. `vm:<id>`, `ops`. */
  key: string;
  /** `$` is the whole record; `$.state.name`, `$.state.snapshots[0]`, or `$.<member>` of an index. */
  path: string;
  kind: 'changed' | 'missing-in-live' | 'missing-in-replay';
  /** null when missing on that side. */
  live: unknown;
  replayed: unknown;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const childPath = (path: string, k: string): string =>
  /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`;

/** Field-by-field differences between two JSON values, down to the leaves. */
function diffJson(
  live: Json | undefined,
  replayed: Json | undefined,
  path: string,
  out: Array<Omit<ReadModelDifference, 'readModel' | 'key'>>,
): void {
  if (live === undefined && replayed === undefined) return;
  if (live === undefined) {
    out.push({ path, kind: 'missing-in-live', live: null, replayed });
    return;
  }
  if (replayed === undefined) {
    out.push({ path, kind: 'missing-in-replay', live, replayed: null });
    return;
  }
  if (Array.isArray(live) && Array.isArray(replayed)) {
    for (let i = 0; i < Math.max(live.length, replayed.length); i++)
      diffJson(live[i], replayed[i], `${path}[${i}]`, out);
    return;
  }
  if (isObject(live) && isObject(replayed)) {
    for (const k of new Set([...Object.keys(live), ...Object.keys(replayed)]))
      diffJson(live[k], replayed[k], childPath(path, k), out);
    return;
  }
  if (JSON.stringify(live) !== JSON.stringify(replayed)) out.push({ path, kind: 'changed', live, replayed });
}

function asJson(v: StoredValue | undefined): Json | undefined {
  if (!v) return undefined;
  if (v.type === 'zset') return v.members;
  if (v.type === 'other') return { redisType: v.redisType };
  try {
    return JSON.parse(v.value) as Json;
  } catch {
    return v.value; // not JSON (damaged by hand): compared as text
  }
}

/** The same bytes, or the same members with the same scores: nothing to parse and walk. */
function same(l: StoredValue, r: StoredValue | undefined): boolean {
  if (l.type === 'string') return r?.type === 'string' && l.value === r.value;
  if (l.type !== 'zset' || r?.type !== 'zset') return false;
  const a = l.members;
  const b = r.members;
  // Key lists, not for…in: an index of many thousand members is a dictionary-mode object.
  const members = Object.keys(a);
  if (members.length !== Object.keys(b).length) return false;
  // Same count, and every member of one has its score in the other (a score is never undefined).
  for (const m of members) if (a[m] !== b[m]) return false;
  return true;
}

/** Every difference between a live read model and its replay, keys in sorted order (stable reports). */
export function diffSnapshots(
  readModel: string,
  live: ReadModelSnapshot,
  replayed: ReadModelSnapshot,
): ReadModelDifference[] {
  // Only the keys that differ are sorted and walked: in a consistent read model, none.
  const differing: string[] = [];
  for (const [key, l] of live) if (!same(l, replayed.get(key))) differing.push(key);
  for (const key of replayed.keys()) if (!live.has(key)) differing.push(key);
  const out: ReadModelDifference[] = [];
  for (const key of differing.sort()) {
    const l = live.get(key);
    const r = replayed.get(key);
    if (l && r && l.type !== r.type) {
      out.push({ readModel, key, path: '$', kind: 'changed', live: asJson(l), replayed: asJson(r) });
      continue;
    }
    const found: Array<Omit<ReadModelDifference, 'readModel' | 'key'>> = [];
    diffJson(asJson(l), asJson(r), '$', found);
    for (const d of found) out.push({ readModel, key, ...d });
  }
  return out;
}

/**
 * The replayed side of a comparison, looked up where it is (a fold in memory)
 * instead of copied into a snapshot first. Keys are relative; only the keys
 * the read model owns.
 */
export interface ReplayedView {
  /** Every key the replay holds. */
  keys(): Iterable<string>;
  has(relativeKey: string): boolean;
  /**
   * The keys the replay holds whose value is not what `live` holds at that key (absent, another
   * type, other bytes, other members or scores), and how many of the replay's keys `live` holds:
   * fewer than live.size means live has keys the replay lacks.
   */
  keysDifferingFrom(live: RawSnapshot): { keys: string[]; liveMatched: number };
  /** The value as Redis would hold it (asked only for the keys that differ). */
  get(relativeKey: string): StoredValue | undefined;
}

/**
 * diffSnapshots of a live read model as read and its replay, without building
 * either snapshot: each key of the replay is checked against the live value in place, and only
 * the keys that differ are turned into snapshots and walked, so a consistent read
 * model parses nothing and builds no index object. The differences are exactly
 * diffSnapshots' on the whole snapshots.
 */
export function diffAgainstReplay(
  readModel: string,
  live: RawSnapshot,
  replayed: ReplayedView,
): { differences: ReadModelDifference[]; recordsCompared: number } {
  const liveDiffering: ReadModelSnapshot = new Map();
  const replayedDiffering: ReadModelSnapshot = new Map();
  const { keys, liveMatched } = replayed.keysDifferingFrom(live);
  let missingInLive = 0;
  for (const key of keys) {
    const l = live.get(key);
    if (l) liveDiffering.set(key, toStoredValue(l));
    else missingInLive++;
    replayedDiffering.set(key, replayed.get(key)!);
  }
  // Live keys the replay lacks: looked for only when there are some (a consistent read model has none).
  if (liveMatched < live.size)
    for (const [key, l] of live) if (!replayed.has(key)) liveDiffering.set(key, toStoredValue(l));
  return {
    differences: diffSnapshots(readModel, liveDiffering, replayedDiffering),
    recordsCompared: live.size + missingInLive,
  };
}
