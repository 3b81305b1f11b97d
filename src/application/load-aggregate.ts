import type { Decider, DomainEvent } from '../domain/decider.js';
import { upcast } from '../domain/upcasters.js';
import type { EventStore, ReadStreamOptions, RecordedEvent } from '../eventstore/event-store.port.js';
import { AggregateSnapshots, type SnapshotOptions } from './aggregate-snapshots.js';
import { KeyedMutex } from './keyed-mutex.js';

export interface LoadedAggregate<S> {
  state: S;
  /** Revision of the last event folded; undefined when the stream has none. */
  revision: bigint | undefined;
}

export interface LoadOptions {
  /**
   * Time travel: fold the stream's events while this holds and stop at the first
   * that fails it (e.g. `e => e.revision <= 4n`). Reads the stream from the start
   * and leaves the cache alone: a past state is not the one to decide against.
   */
  until?: (e: RecordedEvent) => boolean;
}

export interface AggregateLoaderOptions {
  /** Streams whose state is kept; the least recently used is dropped beyond it. */
  limit?: number;
  /** Snapshots for cold loads (see aggregate-snapshots.ts); without them a cold load folds the whole stream. */
  snapshots?: SnapshotOptions;
  /**
   * Decide on a cached state without reading its tail first (loadToDecide). Default: on SQLite
   * only, whose file one process uses. Where several processes write the same streams
   * (PostgreSQL behind several API processes), a cached state is often behind, and a refused
   * append costs more than the tail read it saved. Either way is correct: the append checks.
   */
  decideOnCache?: boolean;
}

interface Cached {
  /** A stream folded by one decider is never handed to another as its state. */
  decider: object;
  state: unknown;
  revision: bigint;
}

const DEFAULT_LIMIT = 20000;
const MISSING_AS_EMPTY: ReadStreamOptions = { ifMissing: 'empty' };

/**
 * The one way to get an aggregate's state from its stream. Streams are
 * append-only, so a state folded once is extended with only the events after
 * its revision: a host stream with thousands of reservations is not refolded
 * for every create (DESIGN invariant 6). Safe with other writers: the store is
 * always asked for what came after. The runtime creates one per store and
 * passes it in; nothing is cached at module level.
 */
export class AggregateLoader {
  private readonly cache = new Map<string, Cached>();
  /**
   * Streams read and found empty (the `default` project, read by every create): their next load
   * asks no snapshot store, as an empty stream has no snapshot. Only a shortcut: a stream created
   * since (by another process) is folded from its first event instead of its snapshot, once.
   */
  private readonly empty = new Set<string>();
  private readonly limit: number;
  private readonly snapshots: AggregateSnapshots | undefined;
  private readonly decideOnCache: boolean;
  /** Commands on one stream in this process take turns (handleCommand): no self-inflicted conflicts. */
  readonly turns = new KeyedMutex();

  constructor(
    readonly store: EventStore,
    options: AggregateLoaderOptions = {},
  ) {
    this.limit = options.limit ?? DEFAULT_LIMIT;
    this.snapshots = options.snapshots ? new AggregateSnapshots(options.snapshots) : undefined;
    this.decideOnCache = options.decideOnCache ?? store.kind === 'sqlite';
  }

  async load<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    options: LoadOptions = {},
  ): Promise<LoadedAggregate<S>> {
    if (options.until) return this.loadUntil(decider, streamId, options.until);
    const hit = this.cache.get(streamId);
    const cached = hit?.decider === decider ? hit : undefined;
    return this.loadAfter(decider, streamId, cached);
  }

  /**
   * The state to decide against. Without asking the store: the cached state (with
   * `decideOnCache`), or for a stream not cached the initial state (a new stream, as every
   * create makes). Only for a decision whose append carries the returned revision as its
   * expected revision (handleCommand; `no_stream` for the initial state), so a stream
   * written since, or that existed all along, is a conflict, never a write on a wrong
   * state. `fresh` is false when nothing was read: an answer that appends nothing (already
   * done, refused) must not be given on it before a `load` confirms it.
   */
  async loadToDecide<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
  ): Promise<LoadedAggregate<S> & { fresh: boolean }> {
    const hit = this.cache.get(streamId);
    if (hit?.decider !== decider) return { state: decider.initialState(), revision: undefined, fresh: false };
    if (!this.decideOnCache) return { ...(await this.loadAfter(decider, streamId, hit)), fresh: true };
    this.touch(streamId, hit);
    return { state: hit.state as S, revision: hit.revision, fresh: false };
  }

  /**
   * A state to guess with, not to decide on: placement's ranking, an up-front check whose refusal
   * the caller confirms with `load`. Where the cache is decided on (`decideOnCache`) it is the
   * cached state, with no store read (a create looked at every host's stream tail, one read per
   * host); otherwise, or when nothing is cached, a `load`.
   */
  async loadToGuess<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, streamId: string): Promise<S> {
    const hit = this.decideOnCache ? this.cache.get(streamId) : undefined;
    if (hit?.decider === decider) return hit.state as S;
    return (await this.load(decider, streamId)).state;
  }

  /**
   * The stream's state now, for a check that guards a side effect with no append of its own to
   * check it again (a saga's guard before it enqueues a job, a project's quota before a create).
   * Where this process is the stream's only writer (`decideOnCache`), every append goes through
   * `handleCommand`, which advances the cache: a cached state that has reached `atLeast` (the
   * revision the caller knows exists), or a stream found empty, is the one a read would return,
   * or one a read a moment earlier would have, so no read is made. Otherwise a `load`.
   */
  async loadCurrent<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    atLeast?: bigint,
  ): Promise<LoadedAggregate<S>> {
    if (this.decideOnCache) {
      const hit = this.cache.get(streamId);
      if (hit?.decider === decider && (atLeast === undefined || hit.revision >= atLeast)) {
        this.touch(streamId, hit);
        return { state: hit.state as S, revision: hit.revision };
      }
      if (!hit && atLeast === undefined && this.empty.has(streamId))
        return { state: decider.initialState(), revision: undefined };
    }
    return this.load(decider, streamId);
  }

  private async loadAfter<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    cached: Cached | undefined,
  ): Promise<LoadedAggregate<S>> {
    if (!cached && !this.empty.has(streamId)) {
      const fromSnapshot = await this.loadFromSnapshot(decider, streamId);
      if (fromSnapshot) return fromSnapshot;
    }
    const tail = await this.read(streamId, cached ? cached.revision + 1n : undefined);
    if (!cached && tail.length === 0) {
      this.rememberEmpty(streamId);
      return { state: decider.initialState(), revision: undefined };
    }
    let state = cached ? (cached.state as S) : decider.initialState();
    for (const e of tail) state = evolveRecorded(decider, state, e);
    const revision = tail.length ? tail[tail.length - 1]!.revision : cached!.revision;
    this.remember(decider, streamId, state, revision);
    if (tail.length && this.snapshots?.due(cached?.revision, revision))
      this.snapshots.write(decider, streamId, state, tail[tail.length - 1]!);
    return { state, revision };
  }

  /**
   * A cold load from the stream's snapshot: the events from its revision on, the first of
   * which must still be the event the snapshot was taken at (same revision, same hash).
   * Undefined when there is none or it does not hold: the caller folds from the start.
   */
  private async loadFromSnapshot<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
  ): Promise<LoadedAggregate<S> | undefined> {
    const snap = await this.snapshots?.read(decider, streamId);
    if (!snap) return undefined;
    const events = await this.read(streamId, snap.revision);
    const at = events[0];
    if (!at || at.revision !== snap.revision || at.metadata.hash !== snap.hash) return undefined;
    let state = snap.state as S;
    for (const e of events.slice(1)) state = evolveRecorded(decider, state, e);
    const last = events[events.length - 1]!;
    this.remember(decider, streamId, state, last.revision);
    if (this.snapshots!.due(snap.revision, last.revision)) this.snapshots!.write(decider, streamId, state, last);
    return { state, revision: last.revision };
  }

  /**
   * Folds events the caller has just appended onto the state it decided against
   * (handleCommand), so the next load reads nothing it already knows. The
   * recorded events are folded, not the decided ones: they are what a later
   * read would return (JSON-normalised), so the cached state is the same.
   */
  advance<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    from: LoadedAggregate<S>,
    appended: readonly RecordedEvent[],
  ): LoadedAggregate<S> {
    let { state, revision } = from;
    for (const e of appended) {
      state = evolveRecorded(decider, state, e);
      revision = e.revision;
    }
    if (revision !== undefined) this.remember(decider, streamId, state, revision);
    const last = appended[appended.length - 1];
    if (last && this.snapshots?.due(from.revision, last.revision)) this.snapshots.write(decider, streamId, state, last);
    return { state, revision };
  }

  private rememberEmpty(streamId: string): void {
    // Insertion order again: beyond the limit the least recently found empty is forgotten first.
    this.empty.delete(streamId);
    this.empty.add(streamId);
    if (this.empty.size > this.limit) this.empty.delete(this.empty.values().next().value!);
  }

  /** Most recently used: Map order is insertion order, so re-inserting moves it last (the same reordering a load does). */
  private touch(streamId: string, hit: Cached): void {
    this.cache.delete(streamId);
    this.cache.set(streamId, hit);
  }

  private remember(decider: object, streamId: string, state: unknown, revision: bigint): void {
    this.empty.delete(streamId);
    const hit = this.cache.get(streamId);
    // The cache only moves forward: a slower caller must not put an older state back.
    if (hit && hit.decider === decider && hit.revision > revision) return;
    // Map order is insertion order: re-inserting makes this stream the most recently used.
    this.cache.delete(streamId);
    this.cache.set(streamId, { decider, state, revision });
    if (this.cache.size > this.limit) this.cache.delete(this.cache.keys().next().value!);
  }

  /**
   * The state just before `revision` (a saga's "before" for an event it has not seen the
   * stream of, e.g. the first after a restart). Starts from the cached state or the
   * snapshot when either is older than `revision`, else from the first event.
   */
  async loadBefore<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    revision: bigint,
  ): Promise<LoadedAggregate<S>> {
    const hit = this.cache.get(streamId);
    let start: { state: S; revision: bigint; hash?: string } | undefined =
      hit?.decider === decider && hit.revision < revision
        ? { state: hit.state as S, revision: hit.revision }
        : undefined;
    if (!start) {
      const snap = await this.snapshots?.read(decider, streamId);
      if (snap && snap.revision < revision)
        start = { state: snap.state as S, revision: snap.revision, hash: snap.hash };
    }
    if (!start) return this.loadUntil(decider, streamId, (e) => e.revision < revision);
    // A snapshot is read from its own event, to check it is still the one it was taken at.
    const events = await this.read(streamId, start.hash ? start.revision : start.revision + 1n);
    if (start.hash) {
      const at = events.shift();
      if (at?.revision !== start.revision || at.metadata.hash !== start.hash)
        return this.loadUntil(decider, streamId, (e) => e.revision < revision);
    }
    let { state, revision: reached } = start;
    for (const e of events) {
      if (e.revision >= revision) break;
      state = evolveRecorded(decider, state, e);
      reached = e.revision;
    }
    return { state, revision: reached };
  }

  private async loadUntil<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    until: (e: RecordedEvent) => boolean,
  ): Promise<LoadedAggregate<S>> {
    let state = decider.initialState();
    let revision: bigint | undefined;
    for (const e of await this.read(streamId, undefined)) {
      if (!until(e)) break;
      state = evolveRecorded(decider, state, e);
      revision = e.revision;
    }
    return { state, revision };
  }

  private async read(streamId: string, fromRevision: bigint | undefined): Promise<RecordedEvent[]> {
    // A missing stream is the initial state here: one query, no error (every create reads the
    // empty `default` project stream and an empty tail or two of its VM's).
    return this.store.readStream(
      streamId,
      fromRevision === undefined ? MISSING_AS_EMPTY : { fromRevision, ifMissing: 'empty' },
    );
  }
}

/** Stored events are folded in their current shape: upcast first. */
function evolveRecorded<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, state: S, e: RecordedEvent): S {
  return decider.evolve(state, { type: e.type, data: upcast(e).data } as E);
}
