import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import type { EventData, EventStore, NewEvent, RecordedEvent } from '../../../src/eventstore/event-store.port.js';
import { waitFor as waitUntil } from '../../support/wait.js';

export interface ContractTarget {
  /** Shown in the test titles. */
  name: string;
  /** Why the backend cannot be tested here; the suite is then registered as skipped with this reason. */
  skip?: string;
  /** A fresh, initialised store on isolated storage (own file, own schema, or a shared server). */
  open(): Promise<EventStore>;
  /** A second store instance on the same storage, standing in for another process. */
  openSecond(): Promise<EventStore>;
  /** Removes the isolated storage after the suite. */
  destroy?(): Promise<void>;
  /** SQL stores enforce globally unique event ids; KurrentDB does not. */
  uniqueEventIds: boolean;
  /** Other writers may append to the same global log (a shared KurrentDB): compare with >=, not ===. */
  sharedLog: boolean;
}

/**
 * What a case file of the store contract is given: the suite's store and names, read inside a
 * test (the store is opened in the suite's before hook, after the cases are registered).
 */
export interface ContractScope {
  readonly target: ContractTarget;
  /** The store the suite opened for this target. */
  readonly store: EventStore;
  /** This run's unique name: every stream of the suite starts with it. */
  readonly run: string;
  /** `<run>-<name>`: a stream no other case (and no other run on a shared server) writes. */
  stream(name: string): string;
}

export function newEvent(type = 'Tested', data: EventData = {}): NewEvent {
  return {
    id: randomUUID(),
    type,
    data,
    metadata: {
      principal: 'contract-test',
      correlationId: randomUUID(),
      causationId: randomUUID(),
      at: new Date().toISOString(),
      schema: 1,
    },
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The suite's short form of the shared waitFor (test/support/wait.ts): what is awaited, then the deadline. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  await waitUntil(condition, { what, timeoutMs, intervalMs: 20 });
}

/**
 * The global log shows an event once no older transaction can still commit
 * before it (gap safety). On PostgreSQL that horizon is the server's oldest open
 * transaction, so a transaction of another test on the same server delays it.
 */
export async function visibleThrough(store: EventStore, position: bigint): Promise<void> {
  await waitFor(async () => ((await store.headPosition()) ?? -1n) >= position, `position ${position} to be visible`);
}

/**
 * Waits until `delivered()` holds a marker event appended now to `markerStream`: a subscription
 * delivers in log order, so by then it is live and has delivered everything appended before.
 * Used instead of a pause, both before an append that must arrive live and before stop().
 */
export async function deliveredThroughMarker(
  store: EventStore,
  markerStream: string,
  delivered: () => RecordedEvent[],
): Promise<void> {
  const marker = newEvent('Marker');
  await store.append(markerStream, [marker], 'any');
  await waitFor(() => delivered().some((e) => e.id === marker.id), `the marker appended to ${markerStream}`);
}

/**
 * For "nothing more happens" checks, measured in store activity rather than time: a control
 * subscription from the head gets `rounds` appends, one after another, each waited for. Whatever
 * a misbehaving subscription would have delivered by then, it would have delivered.
 */
export async function laterAppendsDelivered(store: EventStore, controlStream: string, rounds = 2): Promise<void> {
  const got: RecordedEvent[] = [];
  const control = store.subscribeToAll({
    after: await store.headPosition(),
    onEvent: async (e) => void got.push(e),
  });
  try {
    for (let i = 0; i < rounds; i++) {
      const e = newEvent('Control');
      await store.append(controlStream, [e], 'any');
      await waitFor(() => got.some((g) => g.id === e.id), `control append ${i + 1} of ${rounds} to be delivered`);
    }
  } finally {
    await control.stop();
  }
}

/**
 * Counts the global-log reads issued with `maxCount` (a subscription given a batchSize of its own,
 * or a polling reader), so a test can wait until that reader has looked at the log again.
 * Patches this store instance's readAll, which the polling subscriptions read through.
 */
export function countReads(store: EventStore, maxCount: number): () => number {
  let started = 0;
  const readAll = store.readAll.bind(store);
  store.readAll = (options) => {
    if (options?.maxCount === maxCount) started++;
    return readAll(options);
  };
  return () => started;
}

/** Waits until the reader counted by `reads` has begun `n` more reads (so the pages of n - 1 are handled). */
export async function readAgain(reads: () => number, what: string, n = 2): Promise<void> {
  const from = reads();
  await waitFor(() => reads() >= from + n, `${what} to read the log ${n} more times`);
}

export function assertStrictlyIncreasing(events: RecordedEvent[], what: string): void {
  for (let i = 1; i < events.length; i++) {
    const prev = events[i - 1];
    const cur = events[i];
    assert.ok(
      prev && cur && prev.position < cur.position,
      `${what}: position ${cur?.position} after ${prev?.position}`,
    );
  }
}

/** The page size of startPollingReader's reads (countReads tells them apart by it). */
export const POLLING_READER_PAGE = 50;

/**
 * Reads the global log the way a naive consumer would — repeatedly, each time after the
 * last position it saw — until stopped. If a store ever let a reader see a position and
 * later produced an event before it, this reader's list would miss that event.
 */
export function startPollingReader(
  store: EventStore,
  after: bigint | undefined,
  prefix: string,
): { stop(): Promise<RecordedEvent[]> } {
  const seen: RecordedEvent[] = [];
  let cursor = after;
  let stopped = false;
  const drain = async (): Promise<void> => {
    for (;;) {
      const page = await store.readAll({ after: cursor, maxCount: POLLING_READER_PAGE });
      for (const e of page) {
        if (e.streamId.startsWith(prefix)) seen.push(e);
        cursor = e.position;
      }
      if (page.length < POLLING_READER_PAGE) return;
    }
  };
  // Errors are kept for stop(): a rejection nobody awaits yet would hide the real test failure.
  let failure: unknown;
  const loop = (async () => {
    while (!stopped) {
      await drain();
      await delay(5);
    }
  })().catch((err: unknown) => {
    failure = err;
  });
  return {
    async stop(): Promise<RecordedEvent[]> {
      stopped = true;
      await loop;
      if (failure !== undefined) throw failure;
      await drain();
      return seen;
    },
  };
}
