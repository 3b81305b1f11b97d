import { WrongExpectedVersionError } from './errors.js';
import type { ExpectedState, NewEvent } from './event-store.port.js';

export function describeExpected(expected: ExpectedState): string {
  return typeof expected === 'bigint' ? expected.toString() : expected;
}

export function describeActual(lastRevision: bigint | undefined): string {
  return lastRevision === undefined ? 'no_stream' : lastRevision.toString();
}

export function satisfiesExpected(expected: ExpectedState, lastRevision: bigint | undefined): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return lastRevision === undefined;
  if (expected === 'stream_exists') return lastRevision !== undefined;
  return lastRevision === expected;
}

/** Throws WrongExpectedVersionError unless a stream whose last revision is `lastRevision` satisfies `expected`. */
export function assertExpected(streamId: string, expected: ExpectedState, lastRevision: bigint | undefined): void {
  if (!satisfiesExpected(expected, lastRevision)) {
    throw new WrongExpectedVersionError(streamId, describeExpected(expected), describeActual(lastRevision));
  }
}

/** Whether an earlier append made with `expected` could have put its first event at `firstRevision`. */
export function couldHaveStartedAt(expected: ExpectedState, firstRevision: bigint): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return firstRevision === 0n;
  if (expected === 'stream_exists') return firstRevision > 0n;
  return firstRevision === expected + 1n;
}

/** Where an event id of the batch is already stored. */
export interface StoredEventId {
  id: string;
  streamId: string;
  revision: bigint;
}

export type DuplicateCheck = { kind: 'new' } | { kind: 'replay'; fromRevision: bigint };

/**
 * Idempotency rule shared by the SQL adapters (ids are UNIQUE there): an append whose
 * ids are all already stored, in the same order, as consecutive events of this stream
 * at a place the same expected state could have produced, is a replay of a request that
 * already succeeded (a client retry) and answers with the stored events. Any other
 * reuse of an id is a conflict: WrongExpectedVersionError, nothing appended.
 */
export function checkDuplicates(
  streamId: string,
  events: NewEvent[],
  stored: StoredEventId[],
  expected: ExpectedState,
  lastRevision: bigint | undefined,
): DuplicateCheck {
  if (stored.length === 0) return { kind: 'new' };
  const byId = new Map(stored.map((s) => [s.id, s]));
  const first = byId.get(events[0]?.id ?? '');
  const isReplay =
    first !== undefined &&
    stored.length === events.length &&
    couldHaveStartedAt(expected, first.revision) &&
    events.every((e, i) => {
      const s = byId.get(e.id);
      return s !== undefined && s.streamId === streamId && s.revision === first.revision + BigInt(i);
    });
  if (isReplay) return { kind: 'replay', fromRevision: first.revision };
  throw new WrongExpectedVersionError(streamId, describeExpected(expected), describeActual(lastRevision));
}
