import { getHeapStatistics } from 'node:v8';
import type { Redis } from 'ioredis';
import { writeFoldChanges } from './fold-writer.js';
import type { ProjectionTx } from './projection.js';
import type { ReplayedView } from './read-model-diff.js';
import type { RawSnapshot, ReadModelSnapshot, StoredValue } from './read-model-snapshot.js';

/** Estimated bytes an in-memory fold may hold before a replay spills it to Redis and goes on in pages. */
export function defaultFoldMemoryLimit(): number {
  // A quarter of the heap at most: the live runners, the API and the log pages need the rest.
  return Math.min(512 * 2 ** 20, Math.floor(getHeapStatistics().heap_size_limit / 4));
}

/** A record as a JS object takes a few times its JSON length (hidden classes, pointers, boxed numbers). */
const OBJECT_OVERHEAD = 3;
/** Bytes an index member costs in memory (the Map entry, the string, the score). */
const MEMBER_BYTES = 120;
/** One set in this many has its JSON length measured for the memory estimate. */
const SAMPLE_EVERY = 512;

/** An index as a snapshot holds it: member → score. */
function membersOf(zset: Map<string, number>): Record<string, number> {
  const members: Record<string, number> = {};
  for (const [m, s] of zset) members[m] = s;
  return members;
}

/**
 * Whether an index holds exactly the live members with their scores, given the same
 * count. The fold adds members in log order, so its insertion order is most often the
 * order Redis lists them in (by score, then member): walked side by side, equal names
 * and scores all along prove the same set, both sides holding each member once, with
 * no look-up of a freshly read name in a map of thousands. At the first pair out of
 * step, every live member is looked up instead, which is exact in any order.
 */
function sameMembers(zset: Map<string, number>, flat: string[]): boolean {
  let m = 0;
  for (const [member, score] of zset) {
    if (flat[m] !== member || Number(flat[m + 1]) !== score) break;
    m += 2;
  }
  if (m === flat.length) return true;
  // Out of step: the members already matched are in the fold; look up the rest (a score is never undefined).
  for (; m < flat.length; m += 2) if (zset.get(flat[m]!) !== Number(flat[m + 1])) return false;
  return true;
}

/** What `undo` remembers for a key the fold had not written yet. */
const UNWRITTEN = Symbol('unwritten');

/**
 * A whole read model folded in memory: every record as the projection last
 * set it (objects, never serialised in between) and every index as a map of
 * member → score. A replay starts from nothing and is the only writer of its
 * namespace, so what the fold holds is all there is: reads never go to Redis.
 * `flush` writes what changed since the last flush, each key once, serialised
 * once; `snapshot` gives the read model as Redis would hold it, for a replay
 * check that compares without writing anything.
 */
export class MemoryFold implements ProjectionTx {
  private readonly values = new Map<string, unknown>();
  private readonly zsets = new Map<string, Map<string, number>>();
  /**
   * Until the first flush everything is to be written, so nothing is tracked
   * (the bulk of a replay pays no bookkeeping); afterwards, what changed since.
   */
  private flushed = false;
  private readonly dirtyValues = new Set<string>();
  /** Records deleted since the last flush (a DEL each at the next one, before the sets). */
  private readonly removedValues = new Set<string>();
  private readonly dirtyMembers = new Map<string, Map<string, number>>();
  /** Members removed since the last flush (a ZREM each at the next one). */
  private readonly removedMembers = new Map<string, Set<string>>();
  private members = 0;
  /**
   * Bumped whenever a key appears or goes (a record or an index), never when a value changes:
   * a list of the keys made at one version holds at any later equal one (see keyVersion).
   */
  private keyChanges = 0;
  private sets = 0;
  private avgJsonBytes = 256;
  /**
   * What the current event's writes replaced, flat (key, previous value) pairs and
   * (key, member, previous score) triples: a tuple per write was a fair share of a
   * replay's garbage.
   */
  private readonly undo: unknown[] = [];
  private readonly undoMembers: Array<string | number | undefined> = [];
  /**
   * How much of `undo` and `undoMembers` the current event wrote: mark() rewinds these
   * instead of emptying the arrays (`length = 0` drops their storage, and every event's
   * first write allocated it again: a replay's fair share of short-lived garbage).
   */
  private undoLength = 0;
  private undoMembersLength = 0;

  get<T>(key: string): Promise<T | undefined> {
    return Promise.resolve(this.values.get(key) as T | undefined);
  }

  /** Everything is in memory: a projection may read without a promise (most of a replay's reads). */
  peek<T>(key: string): T | undefined {
    return this.values.get(key) as T | undefined;
  }

  set(key: string, value: unknown): void {
    const before = this.values.get(key);
    const fresh = before === undefined && !this.values.has(key);
    if (fresh) this.keyChanges++;
    this.remember(key, fresh ? UNWRITTEN : before);
    this.values.set(key, value);
    if (this.flushed) this.dirtyValues.add(key);
    if (++this.sets % SAMPLE_EVERY === 1) {
      // A running average of the records' JSON size, from a sample: serialising every one would double the fold's cost.
      const bytes = JSON.stringify(value)?.length ?? 0;
      this.avgJsonBytes = this.avgJsonBytes * 0.9 + bytes * 0.1;
    }
  }

  /** A record leaves the read model (a host's allocation for a VM that left it). */
  del(key: string): void {
    if (!this.values.has(key)) return;
    this.remember(key, this.values.get(key));
    this.values.delete(key);
    this.keyChanges++;
    if (!this.flushed) return;
    this.dirtyValues.delete(key);
    // Kept even if a later write puts it back: the DEL goes before the sets, so the last word is right.
    this.removedValues.add(key);
  }

  index(key: string, score: number, member: string): void {
    let zset = this.zsets.get(key);
    if (!zset) {
      this.zsets.set(key, (zset = new Map()));
      this.keyChanges++;
    }
    const before = zset.get(member);
    this.rememberMember(key, member, before);
    if (before === undefined) this.members++;
    zset.set(member, score);
    if (!this.flushed) return;
    let dirty = this.dirtyMembers.get(key);
    if (!dirty) this.dirtyMembers.set(key, (dirty = new Map()));
    dirty.set(member, score);
    this.removedMembers.get(key)?.delete(member);
  }

  /** A member leaves its index (a deleted VM leaves the live indexes); an index left empty is no index at all. */
  unindex(key: string, member: string): void {
    const zset = this.zsets.get(key);
    const before = zset?.get(member);
    if (!zset || before === undefined) return;
    this.rememberMember(key, member, before);
    zset.delete(member);
    this.members--;
    if (zset.size === 0) {
      this.zsets.delete(key);
      this.keyChanges++;
    }
    if (!this.flushed) return;
    this.dirtyMembers.get(key)?.delete(member);
    let removed = this.removedMembers.get(key);
    if (!removed) this.removedMembers.set(key, (removed = new Set()));
    removed.add(member);
  }

  /** Starts remembering what the next event's writes replace, so rollback() can forget them alone (a poison event). */
  mark(): void {
    this.undoLength = 0;
    this.undoMembersLength = 0;
  }

  private remember(key: string, previous: unknown): void {
    this.undo[this.undoLength++] = key;
    this.undo[this.undoLength++] = previous;
  }

  private rememberMember(key: string, member: string, previous: number | undefined): void {
    this.undoMembers[this.undoMembersLength++] = key;
    this.undoMembers[this.undoMembersLength++] = member;
    this.undoMembers[this.undoMembersLength++] = previous;
  }

  rollback(): void {
    // What the event made or removed comes back or goes; the keys' order may not: any list is stale.
    if (this.undoLength || this.undoMembersLength) this.keyChanges++;
    for (let i = this.undoLength - 2; i >= 0; i -= 2) {
      const key = this.undo[i] as string;
      const previous = this.undo[i + 1];
      if (previous === UNWRITTEN) {
        this.values.delete(key);
        this.dirtyValues.delete(key);
      } else {
        this.values.set(key, previous);
        // A rolled-back delete: written again after its DEL (a set's previous value was dirty already).
        if (this.flushed) this.dirtyValues.add(key);
      }
    }
    for (let i = this.undoMembersLength - 3; i >= 0; i -= 3) {
      const key = this.undoMembers[i] as string;
      const member = this.undoMembers[i + 1] as string;
      const previous = this.undoMembers[i + 2] as number | undefined;
      let zset = this.zsets.get(key);
      const dirty = this.dirtyMembers.get(key);
      if (previous === undefined) {
        if (!zset) continue;
        zset.delete(member);
        dirty?.delete(member);
        this.members--;
        // An index the rolled-back event created is no index at all (Redis holds no empty sorted set).
        if (zset.size === 0) this.zsets.delete(key);
        if (dirty?.size === 0) this.dirtyMembers.delete(key);
        // Absent before the event, so absent from Redis after the next flush: a member removed since
        // the last flush and added back by this event had its pending ZREM dropped by index().
        if (this.flushed) {
          let removed = this.removedMembers.get(key);
          if (!removed) this.removedMembers.set(key, (removed = new Set()));
          removed.add(member);
        }
      } else {
        // Put back what the event indexed over or removed (an unindex may have emptied the index).
        if (!zset) this.zsets.set(key, (zset = new Map()));
        if (!zset.has(member)) this.members++;
        zset.set(member, previous);
        this.removedMembers.get(key)?.delete(member);
        if (this.flushed) {
          let d = dirty;
          if (!d) this.dirtyMembers.set(key, (d = new Map()));
          d.set(member, previous);
        }
      }
    }
    this.mark();
  }

  /**
   * Changes whenever a key appears in the fold or leaves it, and only then: a list of its keys
   * (`keys()`) taken at one version is still the list at any later equal version, however many
   * values changed meanwhile.
   */
  get keyVersion(): number {
    return this.keyChanges;
  }

  /** Estimated bytes held (records sampled for their JSON size, times the object overhead; index members). */
  get estimatedBytes(): number {
    return this.values.size * this.avgJsonBytes * OBJECT_OVERHEAD + this.members * MEMBER_BYTES;
  }

  /** What the fold holds at a key (full name): a record, an index, or nothing. */
  storedType(key: string): 'string' | 'zset' | undefined {
    return this.values.has(key) ? 'string' : this.zsets.has(key) ? 'zset' : undefined;
  }

  /** Every key the fold holds (full names), records and indexes. */
  keys(): string[] {
    return [...this.values.keys(), ...this.zsets.keys()];
  }

  /**
   * Writes what changed since the last flush, each key once, then the checkpoint (see
   * writeFoldChanges): everything held the first time.
   */
  async flush(redis: Redis, checkpointKey: string, position: bigint): Promise<number> {
    const keys = this.flushed ? [...this.dirtyValues] : [...this.values.keys()];
    const written = await writeFoldChanges(redis, {
      removed: [...this.removedValues],
      // The first write takes every value in the map's own order, with no look-up per key.
      records: { keys, values: this.flushed ? keys.map((k) => this.values.get(k)) : [...this.values.values()] },
      members: [...(this.flushed ? this.dirtyMembers : this.zsets)],
      removedMembers: [...this.removedMembers],
      checkpoint: { key: checkpointKey, position },
    });
    this.flushed = true;
    this.dirtyValues.clear();
    this.removedValues.clear();
    this.dirtyMembers.clear();
    this.removedMembers.clear();
    return written;
  }

  /**
   * The read model as a replay check compares it, keys relative to `root`, looked up
   * in the fold (nothing copied): a record is serialised once, to be compared with
   * the live bytes, and an index compared member by member with the live list. An
   * index wins over a record at the same key, as in snapshot().
   */
  view(root: string, owns: (relativeKey: string) => boolean): ReplayedView {
    const { values, zsets } = this;
    const relative = (key: string): string => (key.startsWith(root) ? key.slice(root.length) : key);
    const stored = (rel: string): StoredValue | undefined => {
      if (!owns(rel)) return undefined;
      const key = root + rel;
      const zset = zsets.get(key);
      if (zset) return { type: 'zset', members: membersOf(zset) };
      return values.has(key) ? { type: 'string', value: JSON.stringify(values.get(key)) } : undefined;
    };
    return {
      *keys() {
        for (const key of values.keys()) {
          const rel = relative(key);
          if (owns(rel) && !zsets.has(key)) yield rel;
        }
        for (const key of zsets.keys()) {
          const rel = relative(key);
          if (owns(rel)) yield rel;
        }
      },
      has: (rel) => owns(rel) && (zsets.has(root + rel) || values.has(root + rel)),
      get: stored,
      keysDifferingFrom(live: RawSnapshot): { keys: string[]; liveMatched: number } {
        // Walked in the fold's own order with each value in hand: no key rebuilt from root and
        // relative name (a fresh string hashed per look-up), no second pass over the fold's keys.
        const keys: string[] = [];
        let liveMatched = 0;
        for (const [key, value] of values) {
          const rel = relative(key);
          if (!owns(rel) || zsets.has(key)) continue;
          const l = live.get(rel);
          if (l) liveMatched++;
          // A record unset serialises to no string at all: never the live bytes.
          if (l?.type !== 'string' || JSON.stringify(value) !== l.value) keys.push(rel);
        }
        for (const [key, zset] of zsets) {
          const rel = relative(key);
          if (!owns(rel)) continue;
          const l = live.get(rel);
          if (l) liveMatched++;
          if (l?.type !== 'zset' || zset.size * 2 !== l.flat.length || !sameMembers(zset, l.flat)) keys.push(rel);
        }
        return { keys, liveMatched };
      },
    };
  }

  /** The read model as Redis would hold it after a flush, keys relative to the namespace (`relative`). */
  snapshot(relative: (key: string) => string, owns: (relativeKey: string) => boolean): ReadModelSnapshot {
    const out: ReadModelSnapshot = new Map();
    for (const [key, value] of this.values) {
      const rel = relative(key);
      if (owns(rel)) out.set(rel, { type: 'string', value: JSON.stringify(value) });
    }
    for (const [key, zset] of this.zsets) {
      const rel = relative(key);
      if (!owns(rel)) continue;
      out.set(rel, { type: 'zset', members: membersOf(zset) });
    }
    return out;
  }
}
