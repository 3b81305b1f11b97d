import { randomUUID } from 'node:crypto';
import type { Decider, DomainEvent } from '../domain/decider.js';
import { DomainError } from '../domain/domain-error.js';
import { StreamNotFoundError, WrongExpectedVersionError } from '../eventstore/errors.js';
import type { EventStore, NewEvent, RecordedEvent } from '../eventstore/event-store.port.js';
import { schemaOf, upcast } from '../domain/upcasters.js';

export interface CommandMeta {
  principal: string;
  /** The operation this command belongs to. */
  correlationId: string;
  /** The command or event that caused it. */
  causationId: string;
  reason?: string;
}

export class PreconditionFailedError extends Error {
  override readonly name = 'PreconditionFailedError';
  constructor(
    readonly expected: bigint,
    readonly actual: bigint | undefined,
  ) {
    super(`If-Match ${expected} does not match the current revision ${actual ?? 'none'}`);
  }
}

export class ConcurrencyExhaustedError extends Error {
  override readonly name = 'ConcurrencyExhaustedError';
  constructor(streamId: string, attempts: number) {
    super(`stream ${streamId} kept changing under ${attempts} attempts; retry the request`);
  }
}

export interface LoadedStream<S> {
  state: S;
  revision: bigint | undefined;
  events: RecordedEvent[];
}

export async function loadStream<C, E extends DomainEvent, S>(
  store: EventStore,
  decider: Decider<C, E, S>,
  streamId: string,
  until?: (e: RecordedEvent) => boolean,
): Promise<LoadedStream<S>> {
  let events: RecordedEvent[];
  try {
    events = await store.readStream(streamId);
  } catch (err) {
    if (err instanceof StreamNotFoundError) return { state: decider.initialState(), revision: undefined, events: [] };
    throw err;
  }
  if (until) {
    const cut = events.findIndex((e) => !until(e));
    if (cut >= 0) events = events.slice(0, cut);
  }
  const state = events
    .map(upcast)
    .reduce((s, e) => decider.evolve(s, { type: e.type, data: e.data } as E), decider.initialState());
  return { state, revision: events.length ? events[events.length - 1]!.revision : undefined, events };
}

interface CachedState {
  state: unknown;
  revision: bigint;
}

const STATE_CACHE_LIMIT = 20000;
const stateCache = new WeakMap<EventStore, Map<string, CachedState>>();

/**
 * Current state of a stream for deciding. Streams are append-only, so a state
 * folded once is extended with only the events after its revision: a host
 * stream with thousands of reservations is not refolded for every create.
 * Safe with other writers: the store is always asked for what came after.
 */
export async function loadState<C, E extends DomainEvent, S>(
  store: EventStore,
  decider: Decider<C, E, S>,
  streamId: string,
): Promise<{ state: S; revision: bigint | undefined }> {
  let cache = stateCache.get(store);
  if (!cache) stateCache.set(store, (cache = new Map()));
  const hit = cache.get(streamId);
  let events: RecordedEvent[];
  try {
    events = await store.readStream(streamId, hit ? { fromRevision: hit.revision + 1n } : {});
  } catch (err) {
    if (err instanceof StreamNotFoundError) return { state: decider.initialState(), revision: undefined };
    throw err;
  }
  if (!hit && events.length === 0) return { state: decider.initialState(), revision: undefined };
  let state = (hit?.state as S | undefined) ?? decider.initialState();
  for (const e of events) state = decider.evolve(state, { type: e.type, data: upcast(e).data } as E);
  const revision = events.length ? events[events.length - 1]!.revision : hit!.revision;
  cache.delete(streamId);
  cache.set(streamId, { state, revision });
  if (cache.size > STATE_CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  return { state, revision };
}

export interface HandleOptions {
  /** From If-Match: refuse with 412 unless the stream is at exactly this revision. */
  ifMatch?: bigint;
  maxAttempts?: number;
  now?: () => Date;
}

export interface HandleResult<S> {
  state: S;
  events: RecordedEvent[];
  /** Revision after the command (unchanged when it produced no events). */
  revision: bigint | undefined;
}

/**
 * Read → decide → append with the expected revision; on a concurrent change,
 * decide again against the new state (the decider may now refuse).
 */
export async function handleCommand<C, E extends DomainEvent, S>(
  store: EventStore,
  decider: Decider<C, E, S>,
  streamId: string,
  command: C,
  meta: CommandMeta,
  options: HandleOptions = {},
): Promise<HandleResult<S>> {
  const attempts = options.maxAttempts ?? 8;
  const now = options.now ?? (() => new Date());
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const { state, revision } = await loadState(store, decider, streamId);
    if (options.ifMatch !== undefined && options.ifMatch !== revision) {
      throw new PreconditionFailedError(options.ifMatch, revision);
    }
    const decided = decider.decide(command, state);
    if (decided.length === 0) return { state, events: [], revision };
    const at = now().toISOString();
    const toAppend: NewEvent[] = decided.map((e) => ({
      id: randomUUID(),
      type: e.type,
      data: e.data as Record<string, unknown>,
      metadata: {
        principal: meta.principal,
        correlationId: meta.correlationId,
        causationId: meta.causationId,
        at,
        schema: schemaOf(e.type),
        ...(meta.reason ? { reason: meta.reason } : {}),
      },
    }));
    try {
      const result = await store.append(streamId, toAppend, revision ?? 'no_stream');
      const after = decided.reduce(decider.evolve, state);
      return { state: after, events: result.events, revision: result.nextExpectedRevision };
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) {
        if (options.ifMatch !== undefined) throw new PreconditionFailedError(options.ifMatch, undefined);
        continue;
      }
      throw err;
    }
  }
  throw new ConcurrencyExhaustedError(streamId, attempts);
}

export { DomainError };
