import { StreamNotFoundError, UnavailableError, WrongExpectedVersionError } from '../errors.js';
import type { ExpectedState } from '../event-store.port.js';
import { describeExpected } from '../expected-state.js';

/** gRPC status codes that mean "server not reachable right now". */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** The client's CommandError `type` values that mean the same. */
const UNAVAILABLE_TYPES = new Set(['unavailable', 'deadline-exceeded', 'timeout', 'not-leader', 'cancelled']);

interface ErrorFields {
  type?: unknown;
  code?: unknown;
  details?: unknown;
  streamName?: unknown;
  actualState?: unknown;
  name?: unknown;
}

function fields(err: unknown): ErrorFields {
  return typeof err === 'object' && err !== null ? (err as ErrorFields) : {};
}

function describeActualState(state: unknown): string {
  if (typeof state === 'bigint') return state.toString();
  if (typeof state === 'string') return state;
  return 'unknown';
}

export interface KurrentErrorContext {
  operation: string;
  streamId?: string;
  expected?: ExpectedState;
}

/**
 * Maps client and raw gRPC errors onto the port's errors. A refused connection on
 * append surfaces as a raw grpc-js ServiceError (code 14), not a client UnavailableError,
 * so both shapes are checked.
 */
export function mapKurrentError(err: unknown, ctx: KurrentErrorContext): unknown {
  if (
    err instanceof UnavailableError ||
    err instanceof StreamNotFoundError ||
    err instanceof WrongExpectedVersionError
  ) {
    return err;
  }
  const f = fields(err);
  const type = typeof f.type === 'string' ? f.type : undefined;
  const message = err instanceof Error ? err.message : String(err);
  const details = typeof f.details === 'string' ? f.details : '';
  if (
    (type !== undefined && UNAVAILABLE_TYPES.has(type)) ||
    f.code === GRPC_UNAVAILABLE ||
    f.code === GRPC_DEADLINE_EXCEEDED ||
    f.name === 'UnavailableError' ||
    /client error \(Connect\)/.test(details)
  ) {
    return new UnavailableError(`KurrentDB event store unavailable during ${ctx.operation}: ${message}`, {
      cause: err,
    });
  }
  if (type === 'stream-not-found') {
    const stream = ctx.streamId ?? (typeof f.streamName === 'string' ? f.streamName : 'unknown');
    return new StreamNotFoundError(stream);
  }
  if (type === 'wrong-expected-version') {
    const stream = ctx.streamId ?? (typeof f.streamName === 'string' ? f.streamName : 'unknown');
    const expected = ctx.expected === undefined ? 'unknown' : describeExpected(ctx.expected);
    return new WrongExpectedVersionError(stream, expected, describeActualState(f.actualState));
  }
  return err;
}
