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
  return handleCommands(aggregates, decider, streamId, [command], meta, options);
}

/**
 * Several commands on one stream, in order, as one append: one load, each command decided
 * on the state the events decided before it leave, and one append of all their events with
 * the revision loaded as the expected revision. The log is the one handleCommand called once
 * per command would write (same events, same order, each event's metadata naming its own
 * command), in one commit instead of one per command, and with no other write in between.
 * A command that decides nothing (already done) is skipped, as it would append nothing
 * alone; one that is refused ends the batch: the events decided before it are appended,
 * then the refusal is thrown, as handleCommand would have appended them before refusing.
 * `ifMatch` is checked against the revision before the first command. A conflict re-reads
 * the tail and decides every command again.
 */
export async function handleCommands<C, E extends DomainEvent, S>(
  aggregates: AggregateLoader,
  decider: Decider<C, E, S>,
  streamId: string,
  commands: readonly C[],
  meta: CommandMeta,
  options: HandleOptions = {},
): Promise<HandleResult<S>> {
  return aggregates.turns.run(streamId, () => decideAndAppend(aggregates, decider, streamId, commands, meta, options));
}

async function decideAndAppend<C, E extends DomainEvent, S>(
  aggregates: AggregateLoader,
  decider: Decider<C, E, S>,
  streamId: string,
  commands: readonly C[],
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
    const batch = decideBatch(decider, commands, state, revision, options.ifMatch);
    if (!loaded.fresh && (batch.refused || batch.skipped)) continue;
    if (batch.decided.length === 0) {
      if (batch.refused) throw batch.refused.error;
      return { state, events: [], revision };
    }
    const toAppend = batch.decided.flatMap(({ command, events }) => newEvents(command, events, meta, now()));
    let appended: HandleResult<S>;
    try {
      const result = await aggregates.store.append(streamId, toAppend, revision ?? 'no_stream');
      const after = aggregates.advance(decider, streamId, { state, revision }, result.events);
      appended = { state: after.state, events: result.events, revision: result.nextExpectedRevision };
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
    // The commands before the refused one are recorded, as they would have been one by one.
    if (batch.refused) throw batch.refused.error;
    return appended;
  }
  throw new ConcurrencyExhaustedError(streamId, attempts);
}

/** The events one command decided, as the store takes them: each carries its command and the meta. */
export function newEvents<C, E extends DomainEvent>(
  command: C,
  decided: readonly E[],
  meta: CommandMeta,
  at: Date,
): NewEvent[] {
  const when = at.toISOString();
  const asked = recorded(command);
  return decided.map((e) => ({
    id: randomUUID(),
    type: e.type,
    data: e.data as Record<string, unknown>,
    metadata: {
      principal: meta.principal,
      correlationId: meta.correlationId,
      causationId: meta.causationId,
      at: when,
      schema: schemaOf(e.type),
      ...(meta.reason ? { reason: meta.reason } : {}),
      ...asked,
    },
  }));
}

interface Batch<C, E> {
  /** The commands that decided events, in order, with them. */
  decided: Array<{ command: C; events: E[] }>;
  /** Some command decided nothing (already done). */
  skipped: boolean;
  /** The command that was refused (a DomainError, or 412 on If-Match); the ones after it were not decided. */
  refused?: { error: unknown };
}

/** Each command decided on the state the events decided before it leave. */
function decideBatch<C, E extends DomainEvent, S>(
  decider: Decider<C, E, S>,
  commands: readonly C[],
  state: S,
  revision: bigint | undefined,
  ifMatch: bigint | undefined,
): Batch<C, E> {
  const batch: Batch<C, E> = { decided: [], skipped: false };
  if (ifMatch !== undefined && ifMatch !== revision) {
    batch.refused = { error: new PreconditionFailedError(ifMatch, revision) };
    return batch;
  }
  for (const [i, command] of commands.entries()) {
    let events: E[];
    try {
      events = decider.decide(command, state);
    } catch (error) {
      batch.refused = { error };
      return batch;
    }
    if (events.length === 0) {
      batch.skipped = true;
      continue;
    }
    batch.decided.push({ command, events });
    // The next command sees these events as a read would return them (their JSON form, already
    // at the current schema), as it would have in the cache after their own append.
    if (i < commands.length - 1) for (const e of events) state = evolveStored(decider, state, e);
  }
  return batch;
}

function evolveStored<C, E extends DomainEvent, S>(decider: Decider<C, E, S>, state: S, e: E): S {
  const data = JSON.parse(JSON.stringify(e.data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  return decider.evolve(state, { type: e.type, data } as E);
}
