import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamNotFoundError, WrongExpectedVersionError } from '../../src/eventstore/errors.js';
import type {
  EventData,
  EventStore,
  ExpectedState,
  NewEvent,
  RecordedEvent,
  Subscription,
} from '../../src/eventstore/event-store.port.js';
import { GENESIS_HASH, verifyChain } from '../../src/eventstore/hash-chain.js';
import { uniqueName } from '../support/env.js';

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

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
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

async function rejectsWrongExpected(
  promise: Promise<unknown>,
  streamId: string,
  expected: string,
  actual: string,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WrongExpectedVersionError, `expected WrongExpectedVersionError, got ${String(err)}`);
    assert.equal(err.streamId, streamId);
    assert.equal(err.expected, expected);
    assert.equal(err.actual, actual);
    return true;
  });
}

function assertStrictlyIncreasing(events: RecordedEvent[], what: string): void {
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

export function eventStoreContract(target: ContractTarget): void {
  const title = `EventStore contract: ${target.name}`;
  if (target.skip) {
    test(title, { skip: target.skip }, () => undefined);
    return;
  }

  describe(title, () => {
    let store: EventStore;
    let run: string;
    const stream = (name: string): string => `${run}-${name}`;

    before(async () => {
      run = uniqueName('run');
      store = await target.open();
    });

    after(async () => {
      await store?.close();
      await target.destroy?.();
    });

    test('init() is idempotent and ping() answers', async () => {
      await store.init();
      await store.ping();
    });

    test('no_stream: creates a stream at revision 0, refuses an existing stream', async () => {
      const s = stream('no-stream');
      const first = await store.append(s, [newEvent()], 'no_stream');
      assert.equal(first.nextExpectedRevision, 0n);
      assert.equal(first.events[0]?.revision, 0n);
      await rejectsWrongExpected(store.append(s, [newEvent()], 'no_stream'), s, 'no_stream', '0');
    });

    test('stream_exists: refuses a missing stream, appends to an existing one', async () => {
      const s = stream('exists');
      await rejectsWrongExpected(store.append(s, [newEvent()], 'stream_exists'), s, 'stream_exists', 'no_stream');
      await store.append(s, [newEvent()], 'no_stream');
      const second = await store.append(s, [newEvent(), newEvent()], 'stream_exists');
      assert.equal(second.nextExpectedRevision, 2n);
    });

    test('exact revision: appends when it matches, refuses stale, future and missing-stream revisions', async () => {
      const s = stream('exact');
      await rejectsWrongExpected(store.append(s, [newEvent()], 0n), s, '0', 'no_stream');
      await store.append(s, [newEvent(), newEvent()], 'no_stream');
      const ok = await store.append(s, [newEvent()], 1n);
      assert.equal(ok.nextExpectedRevision, 2n);
      await rejectsWrongExpected(store.append(s, [newEvent()], 1n), s, '1', '2');
      await rejectsWrongExpected(store.append(s, [newEvent()], 7n), s, '7', '2');
    });

    test('any: appends to missing and existing streams', async () => {
      const s = stream('any');
      assert.equal((await store.append(s, [newEvent()], 'any')).nextExpectedRevision, 0n);
      assert.equal((await store.append(s, [newEvent(), newEvent()], 'any')).nextExpectedRevision, 2n);
    });

    test('a refused append writes nothing', async () => {
      const s = stream('refused');
      await store.append(s, [newEvent()], 'no_stream');
      await assert.rejects(store.append(s, [newEvent(), newEvent()], 5n), WrongExpectedVersionError);
      assert.equal((await store.readStream(s)).length, 1);
    });

    test('20 concurrent appends at one revision: exactly one wins', async () => {
      const s = stream('race');
      await store.append(s, [newEvent()], 'no_stream');
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => store.append(s, [newEvent('Raced', { i })], 0n)),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 19);
      for (const r of lost) assert.ok(r.reason instanceof WrongExpectedVersionError, String(r.reason));
      const events = await store.readStream(s);
      assert.equal(events.length, 2);
      assert.equal(verifyChain(events), null);
    });

    test('concurrent `any` appends to one stream all land, each chained onto the one before', async () => {
      const s = stream('any-race');
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.append(s, [newEvent('Any', { i })], 'any')));
      const events = await store.readStream(s);
      assert.equal(events.length, 10);
      assert.deepEqual(
        events.map((e) => e.revision),
        Array.from({ length: 10 }, (_, i) => BigInt(i)),
      );
      assert.equal(verifyChain(events), null);
    });

    test('append returns the events as stored, with revisions, positions and chain metadata', async () => {
      const s = stream('returned');
      const result = await store.append(
        s,
        [newEvent('A', { n: 1 }), newEvent('B', { when: new Date(0) })],
        'no_stream',
      );
      const stored = await store.readStream(s);
      assert.deepEqual(result.events, stored);
      assert.equal(result.position, stored[1]?.position);
      assert.equal(result.nextExpectedRevision, 1n);
      // Values that are not JSON come back the way JSON stores them, and still verify.
      assert.deepEqual(stored[1]?.data, { when: new Date(0).toISOString() });
      assert.equal(verifyChain(stored), null);
    });

    test('readStream: forwards, backwards, fromRevision, maxCount', async () => {
      const s = stream('read');
      await store.append(s, [newEvent('E0'), newEvent('E1'), newEvent('E2')], 'no_stream');
      await store.append(s, [newEvent('E3'), newEvent('E4')], 2n);
      const types = (events: RecordedEvent[]): string[] => events.map((e) => e.type);
      assert.deepEqual(types(await store.readStream(s)), ['E0', 'E1', 'E2', 'E3', 'E4']);
      assert.deepEqual(types(await store.readStream(s, { direction: 'backwards' })), ['E4', 'E3', 'E2', 'E1', 'E0']);
      assert.deepEqual(types(await store.readStream(s, { fromRevision: 2n })), ['E2', 'E3', 'E4']);
      assert.deepEqual(types(await store.readStream(s, { fromRevision: 2n, maxCount: 2 })), ['E2', 'E3']);
      assert.deepEqual(types(await store.readStream(s, { direction: 'backwards', fromRevision: 3n })), [
        'E3',
        'E2',
        'E1',
        'E0',
      ]);
      assert.deepEqual(types(await store.readStream(s, { direction: 'backwards', maxCount: 1 })), ['E4']);
      assert.deepEqual(await store.readStream(s, { fromRevision: 9n }), []);
      assert.deepEqual(await store.readStream(s, { maxCount: 0 }), []);
    });

    test('readStream of a stream with no events throws StreamNotFoundError', async () => {
      const s = stream('missing');
      await assert.rejects(store.readStream(s), (err: unknown) => {
        assert.ok(err instanceof StreamNotFoundError);
        assert.equal(err.streamId, s);
        return true;
      });
      await assert.rejects(store.readStream(s, { direction: 'backwards', maxCount: 1 }), StreamNotFoundError);
    });

    test("readStream with ifMissing 'empty': a missing stream reads as [], an existing one as usual", async () => {
      const missing = stream('missing-empty');
      assert.deepEqual(await store.readStream(missing, { ifMissing: 'empty' }), []);
      assert.deepEqual(await store.readStream(missing, { fromRevision: 3n, ifMissing: 'empty' }), []);
      assert.deepEqual(
        await store.readStream(missing, { direction: 'backwards', maxCount: 1, ifMissing: 'empty' }),
        [],
      );
      const s = stream('present-empty');
      await store.append(s, [newEvent('E0'), newEvent('E1')], 'no_stream');
      const types = (events: RecordedEvent[]): string[] => events.map((e) => e.type);
      assert.deepEqual(types(await store.readStream(s, { ifMissing: 'empty' })), ['E0', 'E1']);
      assert.deepEqual(types(await store.readStream(s, { fromRevision: 1n, ifMissing: 'empty' })), ['E1']);
      assert.deepEqual(await store.readStream(s, { fromRevision: 2n, ifMissing: 'empty' }), []);
      // The default is unchanged.
      await assert.rejects(store.readStream(missing), StreamNotFoundError);
    });

    test('readAll: position order, after (exclusive), maxCount', async () => {
      const prefix = stream('all-');
      const appended: RecordedEvent[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await store.append(`${prefix}${i % 3}`, [newEvent(`All${i}`)], 'any');
        appended.push(...r.events);
      }
      await visibleThrough(store, appended[5]!.position);
      const all = await store.readAll({ streamPrefixes: [prefix] });
      assert.deepEqual(
        all.map((e) => e.id),
        appended.map((e) => e.id),
      );
      assertStrictlyIncreasing(all, 'readAll');
      const afterSecond = await store.readAll({ after: appended[1]?.position, streamPrefixes: [prefix] });
      assert.deepEqual(
        afterSecond.map((e) => e.id),
        appended.slice(2).map((e) => e.id),
      );
      const page = await store.readAll({ after: appended[1]?.position, maxCount: 2, streamPrefixes: [prefix] });
      assert.deepEqual(
        page.map((e) => e.id),
        appended.slice(2, 4).map((e) => e.id),
      );
      const unfiltered = await store.readAll({ after: appended[3]?.position, maxCount: 1 });
      assert.equal(unfiltered.length, 1);
      assert.ok((unfiltered[0]?.position ?? 0n) > (appended[3]?.position ?? 0n));
      assert.deepEqual(await store.readAll({ after: appended[5]?.position, streamPrefixes: [prefix] }), []);
    });

    test('readAll: streamPrefixes and types filters, alone and combined', async () => {
      const vm = stream('vm-');
      const host = stream('host-');
      await store.append(`${vm}1`, [newEvent('VmCreated'), newEvent('VmStarted')], 'no_stream');
      await store.append(`${host}1`, [newEvent('HostRegistered')], 'no_stream');
      const last = await store.append(`${vm}2`, [newEvent('VmCreated')], 'no_stream');
      await visibleThrough(store, last.position);
      const ids = (events: RecordedEvent[]): string[] =>
        events.map((e) => `${e.streamId.slice(run.length + 1)}:${e.type}`);
      assert.deepEqual(ids(await store.readAll({ streamPrefixes: [vm] })), [
        'vm-1:VmCreated',
        'vm-1:VmStarted',
        'vm-2:VmCreated',
      ]);
      assert.deepEqual(ids(await store.readAll({ streamPrefixes: [vm, host] })), [
        'vm-1:VmCreated',
        'vm-1:VmStarted',
        'host-1:HostRegistered',
        'vm-2:VmCreated',
      ]);
      assert.deepEqual(ids(await store.readAll({ streamPrefixes: [vm], types: ['VmCreated'] })), [
        'vm-1:VmCreated',
        'vm-2:VmCreated',
      ]);
      const byType = await store.readAll({ types: ['HostRegistered'] });
      assert.ok(byType.every((e) => e.type === 'HostRegistered'));
      assert.ok(byType.some((e) => e.streamId === `${host}1`));
    });

    test('hash chain: verifies, links prevHash across appends, detects tampering', async () => {
      const s = stream('chain');
      await store.append(s, [newEvent('C0', { a: 1 }), newEvent('C1', { nested: { z: 1, a: [1, 2] } })], 'no_stream');
      await store.append(s, [newEvent('C2')], 1n);
      await store.append(s, [newEvent('C3')], 'any');
      const events = await store.readStream(s);
      assert.equal(verifyChain(events), null);
      assert.equal(events[0]?.metadata.prevHash, GENESIS_HASH);
      for (let i = 1; i < events.length; i++) {
        assert.equal(events[i]?.metadata.prevHash, events[i - 1]?.metadata.hash, `prevHash of revision ${i}`);
      }
      const tampered = events.map((e) => (e.revision === 1n ? { ...e, data: { nested: { z: 2, a: [1, 2] } } } : e));
      assert.deepEqual(verifyChain(tampered)?.revision, 1n);
    });

    test('re-appending the same events at the same place is an idempotent success', async () => {
      const s = stream('replay');
      const first = [newEvent('R0'), newEvent('R1')];
      const original = await store.append(s, first, 'no_stream');
      const replay = await store.append(s, first, 'no_stream');
      assert.deepEqual(replay, original);
      const second = [newEvent('R2')];
      const appended = await store.append(s, second, 1n);
      assert.deepEqual(await store.append(s, second, 1n), appended);
      assert.deepEqual(await store.append(s, second, 'any'), appended);
      assert.equal((await store.readStream(s)).length, 3);
    });

    test(
      'an event id already stored elsewhere is refused',
      { skip: target.uniqueEventIds ? false : 'KurrentDB does not make event ids unique' },
      async () => {
        const s = stream('dup');
        const e = newEvent();
        await store.append(s, [e], 'no_stream');
        await store.append(s, [newEvent()], 0n);
        await assert.rejects(store.append(s, [e], 1n), WrongExpectedVersionError);
        await assert.rejects(store.append(stream('dup-other'), [e], 'any'), WrongExpectedVersionError);
        assert.equal((await store.readStream(s)).length, 2);
      },
    );

    test('headPosition is the position of the last event', async () => {
      const r = await store.append(stream('head'), [newEvent(), newEvent()], 'no_stream');
      await visibleThrough(store, r.position);
      const head = await store.headPosition();
      assert.ok(head !== undefined);
      if (target.sharedLog) assert.ok(head >= r.position);
      else assert.equal(head, r.position);
    });

    test('countEvents: the whole log, and the log up to a position, as many as readAll reads', async (t) => {
      if (!store.countEvents || target.sharedLog)
        return t.skip('this store does not count, or others append meanwhile (callers read instead)');
      const r = await store.append(stream('count'), [newEvent(), newEvent(), newEvent()], 'no_stream');
      await visibleThrough(store, r.position);
      const all = await store.readAll();
      const until = r.events[1]!.position;
      assert.equal(await store.countEvents(), all.length);
      assert.equal(await store.countEvents(until), all.filter((e) => e.position <= until).length);
      assert.equal(await store.countEvents(0n), 0);
    });

    test('readAllHashes: the places and chain hashes of the events readAll reads, after a position, at most maxCount', async (t) => {
      if (!store.readAllHashes || target.sharedLog)
        return t.skip('this store has no such read, or others append meanwhile (callers read instead)');
      const r = await store.append(stream('hashes'), [newEvent(), newEvent(), newEvent()], 'no_stream');
      await visibleThrough(store, r.position);
      const slim = (e: RecordedEvent) => ({
        id: e.id,
        streamId: e.streamId,
        revision: e.revision,
        position: e.position,
        type: e.type,
        hash: e.metadata.hash,
      });
      const all = await store.readAll();
      assert.deepEqual(await store.readAllHashes({ maxCount: all.length + 10 }), all.map(slim));
      const first = r.events[0]!.position;
      assert.deepEqual(
        await store.readAllHashes({ after: first, maxCount: 1 }),
        (await store.readAll({ after: first, maxCount: 1 })).map(slim),
      );
      assert.deepEqual(await store.readAllHashes({ after: r.position, maxCount: 10 }), []);
      assert.deepEqual(await store.readAllHashes({ maxCount: 0 }), []);
    });

    test('checkpoints: unknown reads undefined, last write wins', async () => {
      const name = stream('checkpoint');
      assert.equal(await store.readCheckpoint(name), undefined);
      await store.writeCheckpoint(name, 42n);
      await store.writeCheckpoint(name, 7n);
      assert.equal(await store.readCheckpoint(name), 7n);
      await store.writeCheckpoint(name, 9_007_199_254_740_993n);
      assert.equal(await store.readCheckpoint(name), 9_007_199_254_740_993n);
      assert.equal(await store.readCheckpoint(stream('checkpoint-other')), undefined);
    });

    test('checkpoints never show up in the global log', async () => {
      const head = await store.headPosition();
      await store.writeCheckpoint(stream('hidden'), 1n);
      const after = await store.readAll({ after: head });
      assert.ok(after.every((e) => !e.streamId.includes('checkpoint')));
    });

    test('subscription from a checkpoint misses nothing and repeats nothing while appends run concurrently', async () => {
      const prefix = stream('sub-');
      const pre: RecordedEvent[] = [];
      for (let i = 0; i < 5; i++)
        pre.push(...(await store.append(`${prefix}pre-${i}`, [newEvent()], 'no_stream')).events);
      const checkpoint = stream('sub-checkpoint');
      await store.writeCheckpoint(checkpoint, pre[2]?.position ?? 0n);
      const from = await store.readCheckpoint(checkpoint);

      const delivered: RecordedEvent[] = [];
      const errors: Error[] = [];
      const sub = store.subscribeToAll({
        after: from,
        batchSize: 7,
        onEvent: async (e) => {
          delivered.push(e);
          if (delivered.length % 5 === 0) await delay(1);
        },
        onError: (err) => errors.push(err),
      });
      const reader = startPollingReader(store, from, prefix);

      const writers = Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 10; i++) {
          const batch =
            i % 3 === 0 ? [newEvent('W', { w, i }), newEvent('W', { w, i, second: true })] : [newEvent('W', { w, i })];
          await store.append(`${prefix}w${w}`, batch, i === 0 ? 'no_stream' : 'any');
        }
      });
      await Promise.all(writers);
      const expectedCount = 2 + 4 * 14;
      const mine = (): RecordedEvent[] => delivered.filter((e) => e.streamId.startsWith(prefix));
      await waitFor(() => mine().length >= expectedCount, 'the subscription to deliver every appended event');
      // A duplicate would come before the marker.
      await deliveredThroughMarker(store, stream('checkpoint-marker'), () => delivered);
      await sub.stop();
      const seenByReader = await reader.stop();

      const expected = await store.readAll({ after: from, streamPrefixes: [prefix] });
      assert.equal(expected.length, expectedCount);
      assert.deepEqual(errors, []);
      assertStrictlyIncreasing(delivered, 'subscription');
      assert.equal(new Set(delivered.map((e) => e.id)).size, delivered.length, 'no event delivered twice');
      assert.deepEqual(
        mine().map((e) => e.id),
        expected.map((e) => e.id),
      );
      assert.deepEqual(
        seenByReader.map((e) => e.id),
        expected.map((e) => e.id),
      );
      assert.ok(delivered.every((e) => e.position > (from ?? -1n)));
      assert.equal(sub.lastPosition, delivered[delivered.length - 1]?.position);
    });

    test('subscription: one event at a time, and stop() resolves after the handler in flight', async () => {
      const s = stream('slow');
      const head = await store.headPosition();
      await store.append(s, [newEvent(), newEvent(), newEvent()], 'no_stream');
      let inFlight = 0;
      let maxInFlight = 0;
      let finished = 0;
      let started: () => void = () => undefined;
      const firstStarted = new Promise<void>((resolve) => {
        started = resolve;
      });
      const sub = store.subscribeToAll({
        after: head,
        onEvent: async (e) => {
          if (e.streamId !== s) return;
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          started();
          await delay(150);
          inFlight--;
          finished++;
        },
      });
      await firstStarted;
      await sub.stop();
      assert.equal(inFlight, 0, 'stop() resolved while a handler was still running');
      assert.equal(finished, 1);
      assert.equal(maxInFlight, 1);
      await store.append(s, [newEvent()], 'any');
      await laterAppendsDelivered(store, stream('slow-control'));
      assert.equal(finished, 1, 'an event was delivered after stop()');
    });

    test('subscription: a throwing onEvent stops delivery and reports onError', async () => {
      const s = stream('boom');
      const head = await store.headPosition();
      const { events } = await store.append(s, [newEvent(), newEvent(), newEvent()], 'no_stream');
      let calls = 0;
      const errors: Error[] = [];
      const sub: Subscription = store.subscribeToAll({
        after: head,
        onEvent: async (e) => {
          if (e.streamId !== s) return;
          calls++;
          if (calls === 2) throw new Error('boom');
        },
        onError: (err) => errors.push(err),
      });
      await waitFor(() => errors.length > 0, 'onError');
      await laterAppendsDelivered(store, stream('boom-control'));
      assert.equal(calls, 2);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.message, 'boom');
      const last = sub.lastPosition;
      assert.ok(last !== undefined && last >= (events[0]?.position ?? 0n) && last < (events[1]?.position ?? 0n));
      await sub.stop();
    });

    test('subscription: stop() awaited inside onEvent does not deadlock', async () => {
      const s = stream('self-stop');
      const head = await store.headPosition();
      await store.append(s, [newEvent(), newEvent()], 'no_stream');
      let calls = 0;
      let stoppedInside = false;
      const sub: Subscription = store.subscribeToAll({
        after: head,
        onEvent: async (e) => {
          if (e.streamId !== s) return;
          calls++;
          await sub.stop();
          stoppedInside = true;
        },
      });
      await waitFor(() => stoppedInside, 'stop() inside the handler to resolve', 5_000);
      await sub.stop();
      await laterAppendsDelivered(store, stream('self-stop-control'));
      assert.equal(calls, 1);
    });

    test('subscription from headPosition delivers only what comes after', async () => {
      const s = stream('live');
      await store.append(s, [newEvent('Old')], 'no_stream');
      const head = await store.headPosition();
      const delivered: RecordedEvent[] = [];
      const sub = store.subscribeToAll({ after: head, onEvent: async (e) => void delivered.push(e) });
      // Live before the append, so it arrives as a live event, not in the catch-up.
      await deliveredThroughMarker(store, stream('live-marker'), () => delivered);
      const r = await store.append(s, [newEvent('New')], 0n);
      await waitFor(() => delivered.some((e) => e.streamId === s), 'the live event');
      await sub.stop();
      assert.deepEqual(
        delivered.filter((e) => e.streamId === s).map((e) => e.type),
        ['New'],
      );
      assert.ok(delivered.every((e) => e.position > (head ?? -1n)));
      assert.ok(delivered.some((e) => e.position === r.position));
    });

    test('a subscription sees appends made through another store instance (another process)', async () => {
      const other = await target.openSecond();
      try {
        const s = stream('cross');
        const head = await store.headPosition();
        const delivered: RecordedEvent[] = [];
        const sub = store.subscribeToAll({ after: head, onEvent: async (e) => void delivered.push(e) });
        await deliveredThroughMarker(store, stream('cross-marker'), () => delivered);
        await other.append(s, [newEvent('FromElsewhere')], 'no_stream');
        await waitFor(
          () => delivered.some((e) => e.streamId === s),
          'the event appended through the other instance',
          10_000,
        );
        await sub.stop();
      } finally {
        await other.close();
      }
    });

    test('expected states are checked against the stream, not the caller', async () => {
      // Guards the exhaustiveness of ExpectedState handling across adapters.
      const s = stream('states');
      const states: ExpectedState[] = ['no_stream', 0n, 'stream_exists', 'any', 3n];
      const revisions: bigint[] = [];
      for (const st of states) revisions.push((await store.append(s, [newEvent()], st)).nextExpectedRevision);
      assert.deepEqual(revisions, [0n, 1n, 2n, 3n, 4n]);
    });
  });
}
