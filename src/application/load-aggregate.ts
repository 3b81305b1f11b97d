import type { Decider, DomainEvent } from '../domain/decider.js';
import { upcast } from '../domain/upcasters.js';
import { StreamNotFoundError } from '../eventstore/errors.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
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
}

interface Cached {
  /** A stream folded by one decider is never handed to another as its state. */
  decider: object;
  state: unknown;
  revision: bigint;
}

const DEFAULT_LIMIT = 20000;

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
  private readonly limit: number;
  /** Commands on one stream in this process take turns (handleCommand): no self-inflicted conflicts. */
  readonly turns = new KeyedMutex();

  constructor(
    readonly store: EventStore,
    options: AggregateLoaderOptions = {},
  ) {
    this.limit = options.limit ?? DEFAULT_LIMIT;
  }

  async load<C, E extends DomainEvent, S>(
    decider: Decider<C, E, S>,
    streamId: string,
    options: LoadOptions = {},
  ): Promise<LoadedAggregate<S>> {
    if (options.until) return this.loadUntil(decider, streamId, options.until);
    const hit = this.cache.get(streamId);
    const cached = hit?.decider === decider ? hit : undefined;
    const tail = await this.read(streamId, cached ? cached.revision + 1n : undefined);
    if (!cached && tail.length === 0) return { state: decider.initialState(), revision: undefined };
    let state = cached ? (cached.state as S) : decider.initialState();
    for (const e of tail) state = evolveRecorded(decider, state, e);
    const revision = tail.length ? tail[tail.length - 1]!.revision : cached!.revision;
    this.remember(decider, streamId, state, revision);
    return { state, revision };
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
    return { state, revision };
  }

  private remember(decider: object, streamId: string, state: unknown, revision: bigint): void {
    const hit = this.cache.get(streamId);
    // The cache only moves forward: a slower caller must not put an older state back.
    if (hit && hit.decider === decider && hit.revision > revision) return;
    // Map order is insertion order: re-inserting makes this stream the most recently used.
    this.cache.delete(streamId);
    this.cache.set(streamId, { decider, state, revision });
    if (this.cache.size > this.limit) this.cache.delete(this.cache.keys().next().value!);
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
    try {
      return await this.store.readStream(streamId, fromRevision === undefined ? {} : { fromRevision });
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw err;
    }
  }
}

/** Stored events are folded in their current shape: upcast first. */
function evolveRecorded<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, state: S, e: RecordedEvent): S {
  return decider.evolve(state, { type: e.type, data: upcast(e).data } as E);
}
