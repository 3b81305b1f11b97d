import { randomUUID } from 'node:crypto';
import type { Decider, DomainEvent } from '../domain/decider.js';
import { WrongExpectedVersionError } from '../eventstore/errors.js';
import type { NewEvent, RecordedCommand, RecordedEvent } from '../eventstore/event-store.port.js';
import { schemaOf } from '../domain/upcasters.js';
import type { AggregateLoader } from './load-aggregate.js';

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

/** The command as metadata keeps it, so GET /v1/vms/{id}/why can say what was asked, not only what happened. */
function recorded(command: unknown): { command?: RecordedCommand } {
  if (typeof command !== 'object' || command === null) return {};
  const { type, ...args } = command as Record<string, unknown>;
  if (typeof type !== 'string') return {};
  // Plain JSON, as the store will keep it (and hash it): a bigint becomes its decimal string.
  const plain = JSON.parse(JSON.stringify(args, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  return { command: { type, args: plain as Record<string, unknown> } };
}

/**
 * Decide on the cached state → append with its revision as the expected revision;
 * on a concurrent change (another process wrote, or the cache was behind), read
 * only the tail and decide again (the decider may now refuse). A decision with no
 * events (already done) appends nothing and is not an error; it and any refusal
 * are given only on a state just read from the store, never on the cache alone.
 */
export async function handleCommand<C, E extends DomainEvent, S>(
  aggregates: AggregateLoader,
  decider: Decider<C, E, S>,
  streamId: string,
  command: C,
  meta: CommandMeta,
  options: HandleOptions = {},
): Promise<HandleResult<S>> {
  return aggregates.turns.run(streamId, () => decideAndAppend(aggregates, decider, streamId, command, meta, options));
}

async function decideAndAppend<C, E extends DomainEvent, S>(
  aggregates: AggregateLoader,
  decider: Decider<C, E, S>,
  streamId: string,
  command: C,
  meta: CommandMeta,
  options: HandleOptions,
): Promise<HandleResult<S>> {
  const attempts = options.maxAttempts ?? 8;
  const now = options.now ?? (() => new Date());
  // The first attempt decides without reading, on the cached state (a stream not cached: the
  // initial state, as for a create; see decideOnCache): the append's expected revision checks it. An answer that
  // appends nothing (already done, refused, If-Match) is only given on a state just read, so
  // another process's write is never answered stale.
  let fromCache = true;
  for (let attempt = 1; attempt <= attempts;) {
    const loaded = fromCache
      ? await aggregates.loadToDecide(decider, streamId)
      : { ...(await aggregates.load(decider, streamId)), fresh: true };
    const { state, revision } = loaded;
    fromCache = false;
    const answer = decideOn(decider, command, state, revision, options.ifMatch);
    if (!loaded.fresh && !('append' in answer)) continue;
    if ('error' in answer) throw answer.error;
    if (!('append' in answer)) return { state, events: [], revision };
    const decided = answer.append;
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
        ...recorded(command),
      },
    }));
    try {
      const result = await aggregates.store.append(streamId, toAppend, revision ?? 'no_stream');
      const after = aggregates.advance(decider, streamId, { state, revision }, result.events);
      return { state: after.state, events: result.events, revision: result.nextExpectedRevision };
    } catch (err) {
      if (err instanceof WrongExpectedVersionError) {
        // A cached state that was behind is not a conflict yet: the next turn reads the tail and decides again.
        if (!loaded.fresh) continue;
        if (options.ifMatch !== undefined) throw new PreconditionFailedError(options.ifMatch, undefined);
        attempt++;
        continue;
      }
      throw err;
    }
  }
  throw new ConcurrencyExhaustedError(streamId, attempts);
}

/** One decision: events to append, nothing to do, or the refusal (a DomainError, or 412 on If-Match). */
function decideOn<C, E extends DomainEvent, S>(
  decider: Decider<C, E, S>,
  command: C,
  state: S,
  revision: bigint | undefined,
  ifMatch: bigint | undefined,
): { append: E[] } | { error: unknown } | { nothing: true } {
  if (ifMatch !== undefined && ifMatch !== revision) return { error: new PreconditionFailedError(ifMatch, revision) };
  try {
    const decided = decider.decide(command, state);
    return decided.length ? { append: decided } : { nothing: true };
  } catch (error) {
    return { error };
  }
}
