import type { Decider, DomainEvent } from '../domain/decider.js';
import { DomainError } from '../domain/domain-error.js';
import { WrongExpectedVersionError } from '../eventstore/errors.js';
import type { AppendResult, NewEvent, StreamAppend } from '../eventstore/event-store.port.js';
import {
  ConcurrencyExhaustedError,
  handleCommand,
  newEvents,
  type CommandMeta,
  type HandleResult,
} from './handle-command.js';
import type { AggregateLoader, LoadedAggregate } from './load-aggregate.js';

/** One command for one stream, with the decider that owns the stream. */
export interface StreamCommand<C, E extends DomainEvent, S> {
  decider: Decider<C, E, S>;
  streamId: string;
  command: C;
}

/**
 * The first command of a pair: fixed, or made from the state the second is decided on (a
 * reservation sized by the VM's spec as the request sees it, not as it was read before).
 */
export interface FirstCommand<C, E extends DomainEvent, S, S2> {
  decider: Decider<C, E, S>;
  streamId: string;
  command: C | ((second: S2) => C);
}

export type PairOutcome<S1, S2> =
  | { ok: true; first: HandleResult<S1>; second: HandleResult<S2> }
  /** A refusal (the decider's error, thrown as handleCommand would), given on a state just read; nothing appended. */
  | { ok: false; refused: 'first' | 'second'; error: unknown };

export interface PairOptions {
  maxAttempts?: number;
  now?: () => Date;
}

interface Side<C, E extends DomainEvent, S> {
  cmd: StreamCommand<C, E, S>;
  loaded: LoadedAggregate<S> & { fresh: boolean };
}

type Decided<E> = { events: E[] } | { refused: unknown };

/**
 * Two commands on two streams, appended in one commit where the store can (`appendMany`): a
 * host's reservation and the VM's placement are then one fsync instead of two in a row, and
 * never one without the other. The first command is *for* the second: when the second decides
 * nothing (already done, or no longer wanted: a cancelled create is not placed), neither is
 * appended; when only the first decides nothing (done before), the second is appended alone.
 *
 * As handleCommand: each is decided on the cached state first, the append carries each
 * stream's revision as its expected revision, and a conflict on either stream (the store
 * names it) reads that stream's tail and decides both again; a refusal or an "already done"
 * is only acted on after a fresh read of its stream. Both streams' turns are held (in sorted
 * order, so two pairs over the same streams cannot wait on each other), and both cached
 * states advance with what was appended.
 *
 * A store without `appendMany` (KurrentDB) gets the two handleCommand calls this replaces, in
 * order: the first's events are then stored even when the second is refused after them.
 */
export async function handleCommandPair<C1, E1 extends DomainEvent, S1, C2, E2 extends DomainEvent, S2>(
  aggregates: AggregateLoader,
  first: FirstCommand<C1, E1, S1, S2>,
  second: StreamCommand<C2, E2, S2>,
  meta: CommandMeta,
  options: PairOptions = {},
): Promise<PairOutcome<S1, S2>> {
  if (first.streamId === second.streamId) throw new TypeError(`a pair needs two streams, not ${first.streamId} twice`);
  if (!aggregates.store.appendMany) return oneAfterTheOther(aggregates, first, second, meta);
  const [a, b] = [first.streamId, second.streamId].sort() as [string, string];
  return aggregates.turns.run(a, () =>
    aggregates.turns.run(b, () => decideAndAppendBoth(aggregates, first, second, meta, options)),
  );
}

async function decideAndAppendBoth<C1, E1 extends DomainEvent, S1, C2, E2 extends DomainEvent, S2>(
  aggregates: AggregateLoader,
  first: FirstCommand<C1, E1, S1, S2>,
  second: StreamCommand<C2, E2, S2>,
  meta: CommandMeta,
  options: PairOptions,
): Promise<PairOutcome<S1, S2>> {
  const attempts = options.maxAttempts ?? 8;
  const now = options.now ?? (() => new Date());
  const two: Side<C2, E2, S2> = { cmd: second, loaded: await aggregates.loadToDecide(second.decider, second.streamId) };
  // Made again on each attempt: the second stream's state may have been read anew.
  const firstOn = (state: S2): StreamCommand<C1, E1, S1> => ({ ...first, command: commandOf(first, state) });
  const one: Side<C1, E1, S1> = {
    cmd: firstOn(two.loaded.state),
    loaded: await aggregates.loadToDecide(first.decider, first.streamId),
  };
  for (let attempt = 1; attempt <= attempts;) {
    one.cmd = firstOn(two.loaded.state);
    const d1 = decide(one);
    const d2 = decide(two);
    // A refusal or "nothing to do" on a state not read yet is confirmed on a read first.
    const stale1 = !one.loaded.fresh && (!('events' in d1) || d1.events.length === 0);
    const stale2 = !two.loaded.fresh && (!('events' in d2) || d2.events.length === 0);
    if (stale1 || stale2) {
      if (stale1) one.loaded = await reload(aggregates, one);
      if (stale2) two.loaded = await reload(aggregates, two);
      continue;
    }
    if (!('events' in d1)) return { ok: false, refused: 'first', error: d1.refused };
    if (!('events' in d2)) return { ok: false, refused: 'second', error: d2.refused };
    if (d2.events.length === 0) return { ok: true, first: unchanged(one), second: unchanged(two) };
    const at = now();
    const parts: Array<{ side: 'first' | 'second'; append: StreamAppend }> = [];
    if (d1.events.length > 0)
      parts.push({ side: 'first', append: part(one, newEvents(one.cmd.command, d1.events, meta, at)) });
    parts.push({ side: 'second', append: part(two, newEvents(second.command, d2.events, meta, at)) });
    let results: AppendResult[];
    try {
      results = await aggregates.store.appendMany!(parts.map((p) => p.append));
    } catch (err) {
      if (!(err instanceof WrongExpectedVersionError)) throw err;
      // The store names the stream that moved; a state that was only cached is not a conflict yet.
      const wasFresh = err.streamId === first.streamId ? one.loaded.fresh : two.loaded.fresh;
      if (err.streamId === first.streamId) one.loaded = await reload(aggregates, one);
      else two.loaded = await reload(aggregates, two);
      if (wasFresh) attempt++;
      continue;
    }
    const byStream = new Map(parts.map((p, i) => [p.side, results[i]!]));
    return {
      ok: true,
      first: advanced(aggregates, one, byStream.get('first')),
      second: advanced(aggregates, two, byStream.get('second')),
    };
  }
  throw new ConcurrencyExhaustedError(`${first.streamId} and ${second.streamId}`, attempts);
}

function commandOf<C, E extends DomainEvent, S, S2>(first: FirstCommand<C, E, S, S2>, second: S2): C {
  return typeof first.command === 'function' ? (first.command as (s: S2) => C)(second) : first.command;
}

function decide<C, E extends DomainEvent, S>(side: Side<C, E, S>): Decided<E> {
  try {
    return { events: side.cmd.decider.decide(side.cmd.command, side.loaded.state) };
  } catch (refused) {
    return { refused };
  }
}

async function reload<C, E extends DomainEvent, S>(
  aggregates: AggregateLoader,
  side: Side<C, E, S>,
): Promise<LoadedAggregate<S> & { fresh: boolean }> {
  return { ...(await aggregates.load(side.cmd.decider, side.cmd.streamId)), fresh: true };
}

function part<C, E extends DomainEvent, S>(side: Side<C, E, S>, events: NewEvent[]): StreamAppend {
  return { streamId: side.cmd.streamId, events, expected: side.loaded.revision ?? 'no_stream' };
}

function unchanged<C, E extends DomainEvent, S>(side: Side<C, E, S>): HandleResult<S> {
  return { state: side.loaded.state, events: [], revision: side.loaded.revision };
}

function advanced<C, E extends DomainEvent, S>(
  aggregates: AggregateLoader,
  side: Side<C, E, S>,
  result: AppendResult | undefined,
): HandleResult<S> {
  if (!result) return unchanged(side);
  const after = aggregates.advance(side.cmd.decider, side.cmd.streamId, side.loaded, result.events);
  return { state: after.state, events: result.events, revision: result.nextExpectedRevision };
}

/** Without appendMany: the two commits this replaces, first then second; only a decider's refusal is an outcome. */
async function oneAfterTheOther<C1, E1 extends DomainEvent, S1, C2, E2 extends DomainEvent, S2>(
  aggregates: AggregateLoader,
  first: FirstCommand<C1, E1, S1, S2>,
  second: StreamCommand<C2, E2, S2>,
  meta: CommandMeta,
): Promise<PairOutcome<S1, S2>> {
  let one: HandleResult<S1>;
  try {
    // The second's state as the first is decided (read, as a command's own decision would read it).
    const command =
      typeof first.command === 'function'
        ? commandOf(first, (await aggregates.load(second.decider, second.streamId)).state)
        : first.command;
    one = await handleCommand(aggregates, first.decider, first.streamId, command, meta);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { ok: false, refused: 'first', error };
  }
  try {
    return {
      ok: true,
      first: one,
      second: await handleCommand(aggregates, second.decider, second.streamId, second.command, meta),
    };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return { ok: false, refused: 'second', error };
  }
}
