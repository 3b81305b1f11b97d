import { StreamNotFoundError, UnavailableError, WrongExpectedVersionError } from '../errors.js';
import type { AppendResult } from '../event-store.port.js';
import type { ExpectedState } from '../event-store.port.js';
import type { NewEventJson } from '../new-events.js';
import { mapSqliteError } from './sqlite.errors.js';

/** What the writer thread is started with (workerData). */
export interface WriterInit {
  file: string;
  /** The writer thread may block while waiting for the lock: nothing else runs on it. */
  busyTimeoutMs: number;
}

/** An append as posted: its events' data and metadata as JSON text, parsed on the writer thread. */
export type AppendJsonArgs = [streamId: string, batch: NewEventJson[], expected: ExpectedState];

/** One append, a set of appends that stand or fall together (appendMany), or a checkpoint write, each answered by its own reply (seq). */
export type WriterCall =
  | { type: 'append'; seq: number; args: AppendJsonArgs }
  | { type: 'appendMany'; seq: number; args: AppendJsonArgs[] }
  | { type: 'checkpoint'; seq: number; name: string; position: bigint };

/**
 * Main thread → writer thread. The calls made within one turn of the main event loop
 * travel in one `calls` message: one structured clone and one wake-up of the thread
 * instead of one per append, handled in the order they were made.
 */
export type WriterRequest = { type: 'calls'; calls: WriterCall[] } | { type: 'close' };

export type WriterReply =
  { seq: number; ok: true; value?: AppendResult | AppendResult[] } | { seq: number; ok: false; error: WireError };

/** Writer thread → main thread. */
export type WriterMessage =
  | { type: 'ready' }
  | { type: 'fatal'; error: WireError }
  | { type: 'replies'; replies: WriterReply[]; committed: boolean; stats: WriterStats };

/** Cumulative counts of the writer thread, for the bench: how full its groups are. */
export interface WriterStats {
  /** Group transactions committed (one fsync each). */
  groups: number;
  /** Appends that went through them (stored or refused alone); an appendMany counts one per stream. */
  appends: number;
}

/**
 * An error as it crosses the thread boundary. Structured clone keeps neither the class
 * nor the fields callers test (WrongExpectedVersionError.streamId, a SQLite `code`), so
 * the writer sends them by name and the main thread rebuilds the same error a
 * same-thread append threw.
 */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  streamId?: string;
  expected?: string;
  actual?: string;
  outcomeUnknown?: boolean;
}

export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const wire: WireError = { name: err.name, message: err.message };
  if (err instanceof WrongExpectedVersionError) {
    return { ...wire, streamId: err.streamId, expected: err.expected, actual: err.actual };
  }
  if (err instanceof StreamNotFoundError) return { ...wire, streamId: err.streamId };
  if (err instanceof UnavailableError) return { ...wire, outcomeUnknown: err.outcomeUnknown };
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? { ...wire, code } : wire;
}

export function fromWireError(w: WireError, file: string): unknown {
  switch (w.name) {
    case 'WrongExpectedVersionError':
      return new WrongExpectedVersionError(w.streamId ?? '', w.expected ?? '', w.actual ?? '');
    case 'StreamNotFoundError':
      return new StreamNotFoundError(w.streamId ?? '', w.message);
    case 'UnavailableError':
      return new UnavailableError(w.message, { outcomeUnknown: w.outcomeUnknown });
    case 'TypeError':
      return new TypeError(w.message);
    case 'RangeError':
      return new RangeError(w.message);
  }
  const err = new Error(w.message);
  if (w.name !== 'Error') Object.defineProperty(err, 'name', { value: w.name });
  if (w.code === undefined) return err;
  // A SQLite or file-system failure: mapped here exactly as on one thread (lock, disk full → UnavailableError).
  return mapSqliteError(Object.assign(err, { code: w.code }), file);
}
