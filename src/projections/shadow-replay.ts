import type { Redis } from 'ioredis';
import { isPoison } from '../domain/parked.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
import { defaultFoldMemoryLimit, MemoryFold } from './memory-fold.js';
import type { ReplayedView } from './read-model-diff.js';
import type { Projection } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import { readSnapshot, type ReadModelSnapshot, type TypeHint } from './read-model-snapshot.js';
import { RedisProjectionTx } from './redis-projection-tx.js';

/** Events per read of the log unless the store says otherwise (EventStore.replayPageSize). */
export const REPLAY_BATCH = 5000;

/** Events per read of the log when a replay is not told. */
export function replayPageSize(store: EventStore): number {
  return store.replayPageSize ?? REPLAY_BATCH;
}

/**
 * Events folded in memory between two turns of the event loop. A page folds without a
 * single I/O wait, so without these turns nothing else in the process ran for a whole
 * page: a rebuild's listing of the live keys (a SCAN of the whole keyspace, one round trip
 * per step) got one step per page and was still running when the live runner was paused
 * for the swap, which then waited for it (1.3–2.2 s of a 2.9–4.3 s pause on the shared
 * bench machine). A turn costs a few microseconds. Counted across pages: a page can be
 * shorter than this (SQLite's), and the awaits between pages (a read that answers at
 * once, a progress write already done) are microtasks, not turns.
 */
const YIELD_EVERY = 500;

const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface ShadowReplayOptions {
  /** Events per read (and per Redis transaction once spilled). */
  batchSize?: number;
  /** Estimated bytes the in-memory fold may take; past it the replay spills to Redis and goes on in pages. */
  memoryLimitBytes?: number;
  /**
   * Write the shadow to Redis at the end of each replay() (a rebuild swaps it in).
   * A replay check leaves it false: it compares the fold in memory and writes nothing.
   */
  persist?: boolean;
}

/**
 * Folds the log into a shadow namespace with the same projection code the live
 * runner uses. The whole read model is folded in memory (a map of records and
 * of index members, no Redis read, nothing serialised per event) and, when
 * persisted, each key changed since the last write is written once at the end of
 * a replay() with the shadow's checkpoint last, so a shadow in Redis is always a
 * prefix of the log. Past the memory bound the fold is written out and the replay
 * goes on the slower way: a page of events per Redis transaction, reads from
 * Redis.
 */
export class ShadowReplay {
  /** Last position applied (undefined before the first event). */
  position: bigint | undefined;
  /** Events read from the log and handed to the projection (most are ignored by one of them). */
  events = 0;
  /** Undefined once spilled to Redis. */
  private fold: MemoryFold | undefined = new MemoryFold();
  /** Events folded since the event loop last had a turn (see YIELD_EVERY). */
  private sinceYield = 0;
  /** Whether Redis holds the shadow up to `position` (nothing left in the fold to write). */
  private written = true;
  /** writtenSplit()'s answer, and the fold's key version it was made at (valid while that holds). */
  private split: { owned: string[]; left: string[]; version: number } | undefined;
  private readonly batchSize: number;
  private readonly memoryLimit: number;
  private readonly persist: boolean;

  constructor(
    private readonly store: EventStore,
    private readonly redis: Redis,
    readonly projection: Projection,
    readonly keys: ReadModelKeys,
    opts: ShadowReplayOptions = {},
  ) {
    this.batchSize = opts.batchSize ?? replayPageSize(store);
    this.memoryLimit = opts.memoryLimitBytes ?? defaultFoldMemoryLimit();
    this.persist = opts.persist ?? true;
  }

  /** True while the whole read model is in memory (it never spilled to Redis). */
  get inMemory(): boolean {
    return this.fold !== undefined;
  }

  /**
   * Applies the events after the current position up to `until` (inclusive), or to
   * the head when omitted; `onBatch` sees the running count after each page.
   * `shouldStop` is asked between pages (shutdown).
   */
  async replay(
    until?: bigint,
    onBatch?: (events: number) => Promise<void> | void,
    shouldStop?: () => boolean,
  ): Promise<number> {
    const applied = await replayTogether(this.store, [this], this.batchSize, until, onBatch, shouldStop);
    if (this.persist) await this.write();
    return applied;
  }

  /** One page of events, in log order, after the current position. */
  async applyPage(page: RecordedEvent[]): Promise<void> {
    if (page.length === 0) return;
    const last = page[page.length - 1]!.position;
    const projection = this.projection;
    if (this.fold) {
      const fold = this.fold;
      for (const e of page) {
        // An event the read model ignores costs no call, no promise, no await (see Projection.handles).
        if (projection.handles && !projection.handles(e)) continue;
        if (++this.sinceYield === YIELD_EVERY) {
          this.sinceYield = 0;
          await yieldToIo();
        }
        fold.mark();
        try {
          // Awaited only when the projection returned a promise: an await costs a microtask and the
          // resumption of this frame even for an apply that is already done (see Projection.apply).
          const applying = projection.apply(e, fold);
          if (applying) await applying;
        } catch (err) {
          // The live runner parks such an event and writes nothing of it: the replay must skip it the same way.
          if (!isPoison(err)) throw err;
          fold.rollback();
        }
      }
      this.position = last;
      this.events += page.length;
      this.written = false;
      if (fold.estimatedBytes > this.memoryLimit) {
        await fold.flush(this.redis, this.checkpointKey, last);
        this.fold = undefined;
        this.written = true;
      }
      return;
    }
    // Spilled: what the shadow wrote is in Redis, read back per key.
    const tx = new RedisProjectionTx(this.redis);
    for (const e of page) {
      if (projection.handles && !projection.handles(e)) continue;
      tx.mark();
      try {
        await projection.apply(e, tx);
      } catch (err) {
        if (!isPoison(err)) throw err;
        tx.rollback();
      }
    }
    await tx.commit(this.checkpointKey, last);
    this.position = last;
    this.events += page.length;
  }

  /** Writes what the fold changed since the last write, with the shadow's checkpoint (nothing when already written). */
  async write(): Promise<void> {
    if (this.written || !this.fold || this.position === undefined) return;
    await this.fold.flush(this.redis, this.checkpointKey, this.position);
    this.written = true;
  }

  /** The replayed read model as Redis holds (or would hold) it, keys relative to the namespace. */
  async snapshot(): Promise<ReadModelSnapshot> {
    if (this.fold)
      return this.fold.snapshot(
        (k) => this.keys.relative(k),
        (k) => this.projection.owns(k),
      );
    return readSnapshot(this.redis, this.keys, this.projection);
  }

  /** The fold as a replay check compares it, looked up in place; undefined once spilled to Redis. */
  view(): ReplayedView | undefined {
    return this.fold?.view(this.keys.root, (k) => this.projection.owns(k));
  }

  /**
   * What the replay holds at a key of any namespace (relative name), as a hint for reading
   * the live read model in one round trip per chunk; undefined once spilled to Redis.
   */
  typeHint(): TypeHint | undefined {
    const fold = this.fold;
    if (!fold) return undefined;
    const root = this.keys.root;
    return (relativeKey) => fold.storedType(root + relativeKey);
  }

  /**
   * The keys the fold holds that the read model owns, named in `other`'s namespace (the live
   * one); undefined once spilled to Redis.
   */
  ownedKeysIn(other: ReadModelKeys): string[] | undefined {
    if (!this.fold) return undefined;
    const out: string[] = [];
    for (const k of this.fold.keys()) {
      const relative = this.keys.relative(k);
      if (this.projection.owns(relative)) out.push(other.root + relative);
    }
    return out;
  }

  /** Every key the shadow holds in Redis (full names), when the fold knows them all (it never spilled). */
  writtenKeys(): string[] | undefined {
    return this.writtenSplit()?.owned;
  }

  /**
   * What a swap of `writtenKeys()` leaves in the shadow namespace (the checkpoint, keys the
   * read model does not own): deleting these is enough, no scan. Undefined when not known.
   */
  leftoverKeys(): string[] | undefined {
    const split = this.writtenSplit();
    return split && [...split.left, this.checkpointKey];
  }

  /**
   * The written keys split into owned and not, in one pass, kept while the fold's keys stay the
   * same (events that only change values, as most do, keep it): a rebuild asks for both under
   * the live runner's pause, and each pass over tens of thousands of keys (a copy of the key list,
   * a relative name and an `owns` per key) cost tens of ms. The same list also lets the swap
   * reuse the plan it made before the pause (swapReadModel).
   */
  private writtenSplit(): { owned: string[]; left: string[] } | undefined {
    const fold = this.fold;
    if (!fold || !this.written) return undefined;
    if (this.split?.version === fold.keyVersion) return this.split;
    const owned: string[] = [];
    const left: string[] = [];
    for (const k of fold.keys()) (this.projection.owns(this.keys.relative(k)) ? owned : left).push(k);
    this.split = { owned, left, version: fold.keyVersion };
    return this.split;
  }

  private get checkpointKey(): string {
    return this.keys.checkpoint(this.projection.name);
  }
}

/**
 * Reads the log once, in pages after the replays' common position, up to `until`
 * (inclusive; the head when omitted), and hands each page to every replay: one
 * read and one decode of each event for all of them (a replay check folds every
 * read model at once). The replays must stand at the same position.
 */
export async function replayTogether(
  store: EventStore,
  replays: ShadowReplay[],
  batchSize = replayPageSize(store),
  until?: bigint,
  onBatch?: (events: number) => Promise<void> | void,
  shouldStop?: () => boolean,
): Promise<number> {
  const from = replays[0]?.position;
  if (replays.some((r) => r.position !== from)) throw new Error('replays read together must stand at one position');
  const read = (after: bigint | undefined): Promise<RecordedEvent[]> => {
    const reading = store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: batchSize });
    reading.catch(() => undefined); // awaited below, or dropped when a fold fails: never an unhandled rejection
    return reading;
  };
  let next = read(from);
  let applied = 0;
  for (;;) {
    if (shouldStop?.()) throw new Error('replay stopped: the process is shutting down');
    const page = await next;
    let wanted = page;
    if (until !== undefined && page.length && page[page.length - 1]!.position > until)
      wanted = page.filter((e) => e.position <= until);
    if (wanted.length === 0) return applied;
    const last =
      wanted.length === page.length && page.length === batchSize ? page[page.length - 1]!.position : undefined;
    // The next page is read while this one folds: a store across the network (PostgreSQL) answers
    // meanwhile instead of the fold waiting for each page in turn.
    if (last !== undefined) next = read(last);
    for (const r of replays) await r.applyPage(wanted);
    applied += wanted.length;
    await onBatch?.(replays[0]!.events);
    if (last === undefined) return applied;
  }
}

/** Events in the log now (a rebuild's progress total). */
export async function countLogEvents(store: EventStore): Promise<number> {
  // Counted by the database when it can: reading and parsing the whole log only to count it cost a full extra pass.
  if (store.countEvents) return store.countEvents();
  let n = 0;
  let after: bigint | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 2000 });
    n += page.length;
    if (page.length < 2000) return n;
    after = page[page.length - 1]!.position;
  }
}
