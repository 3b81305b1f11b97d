import {
  AccessDeniedError,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
} from '../errors.js';
import type { ExpectedState } from '../event-store.port.js';
import { describeExpected } from '../expected-state.js';

/** gRPC status codes that mean "server not reachable right now". */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAUTHENTICATED = 16;
const GRPC_PERMISSION_DENIED = 7;

/** The client's CommandError `type` values that mean the same. */
const UNAVAILABLE_TYPES = new Set(['unavailable', 'deadline-exceeded', 'timeout', 'not-leader', 'cancelled']);
/** Types whose outcome on an append is unknown: the request may have reached the server. */
const IN_FLIGHT_TYPES = new Set(['deadline-exceeded', 'timeout', 'cancelled']);
/** Soft-deleted streams read as not found; tombstoned ones raise one of these (bridge reads, gRPC appends, v2 appends). */
const DELETED_TYPES = new Set(['stream-deleted', 'stream-tombstoned']);

interface ErrorFields {
  type?: unknown;
  code?: unknown;
  details?: unknown;
  streamName?: unknown;
  stream?: unknown;
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

function streamOf(f: ErrorFields, ctx: KurrentErrorContext): string {
  if (ctx.streamId !== undefined) return ctx.streamId;
  if (typeof f.streamName === 'string' && f.streamName !== '') return f.streamName;
  if (typeof f.stream === 'string' && f.stream !== '') return f.stream;
  return 'unknown';
}

/**
 * Maps client and raw gRPC errors onto the port's errors. A refused connection on
 * append surfaces as a raw grpc-js ServiceError (code 14), not a client UnavailableError,
 * so both shapes are checked. Anything not recognised is returned unchanged.
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
    type === 'access-denied' ||
    f.name === 'AccessDeniedError' ||
    f.code === GRPC_UNAUTHENTICATED ||
    f.code === GRPC_PERMISSION_DENIED
  ) {
    return new AccessDeniedError(
      `KurrentDB refused access during ${ctx.operation}${ctx.streamId ? ` on ${ctx.streamId}` : ''}: check the credentials in EVENTSTORE_URL and the stream ACLs${message ? ` (${message})` : ''}`,
      { cause: err },
    );
  }
  if (
    (type !== undefined && UNAVAILABLE_TYPES.has(type)) ||
    f.code === GRPC_UNAVAILABLE ||
    f.code === GRPC_DEADLINE_EXCEEDED ||
    f.name === 'UnavailableError' ||
    /client error \(Connect\)/.test(details)
  ) {
    // A refused connection never reached the server; a deadline or a cancel may have.
    const inFlight =
      ctx.operation === 'append' &&
      ((type !== undefined && IN_FLIGHT_TYPES.has(type)) || f.code === GRPC_DEADLINE_EXCEEDED);
    return new UnavailableError(`KurrentDB event store unavailable during ${ctx.operation}: ${message}`, {
      cause: err,
      outcomeUnknown: inFlight,
    });
  }
  if (type !== undefined && DELETED_TYPES.has(type)) return new StreamDeletedError(streamOf(f, ctx));
  if (type === 'stream-not-found') return new StreamNotFoundError(streamOf(f, ctx));
  if (type === 'wrong-expected-version') {
    const expected = ctx.expected === undefined ? 'unknown' : describeExpected(ctx.expected);
    return new WrongExpectedVersionError(streamOf(f, ctx), expected, describeActualState(f.actualState));
  }
  return err;
}
