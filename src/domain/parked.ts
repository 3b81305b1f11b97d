import { DomainError } from './domain-error.js';

/**
 * A poison event: one a consumer (the sagas, a projection) cannot handle
 * however often it retries, because the event or the code is wrong rather
 * than a service being down. It is parked — recorded with the error on the
 * consumer's `parked-<consumer>` stream — and the consumer goes on.
 *
 * Not `$parked`: KurrentDB reserves `$` streams (the adapter refuses to append
 * to them and hides them from reads), so a `$` record would not be in the
 * auditable log on every store. A plain stream is hash-chained, sealed and
 * exported like every other, and no consumer claims the `parked-` prefix.
 */
export const PARKED_STREAM_PREFIX = 'parked-';

export const parkedStream = (consumer: string): string => `${PARKED_STREAM_PREFIX}${consumer}`;

export interface EventParkedData {
  consumer: string;
  /** Global position of the parked event (decimal string: positions are JSON strings). */
  position: string;
  eventId: string;
  streamId: string;
  type: string;
  error: string;
}

/** A parked event as /health and /metrics show it. */
export interface ParkedItem {
  consumer: string;
  position: bigint;
  eventId: string;
  streamId: string;
  type: string;
  error: string;
  /** When it was parked (ISO 8601). */
  at: string;
}

export interface EventParked {
  type: 'EventParked';
  data: EventParkedData;
}

/**
 * Errors that retrying cannot cure: a decider's refusal, or data the code
 * cannot read (TypeError, RangeError, SyntaxError). Anything else (store or
 * Redis unavailable, a concurrency race, an aborted transaction) is transient
 * and retried.
 */
export function isPoison(err: unknown): boolean {
  return (
    err instanceof DomainError || err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError
  );
}
