/**
 * The adapter against what client 1.3.1 really does (read from its source): conflicts
 * reported as `success: false`, deadlines, access denied, deleted streams, leader reads,
 * server-side $all filters. The stub (test/support/kurrentdb.stub-client.ts) returns
 * the client's shapes and throws the client's own error classes.
 */
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AccessDeniedError as KurrentAccessDeniedError,
  DeadlineExceededError as KurrentDeadlineExceededError,
  eventTypeFilter,
  StreamDeletedError as KurrentStreamDeletedError,
  streamNameFilter,
} from '@kurrent/kurrentdb-client';
import {
  AccessDeniedError,
  StreamDeletedError,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
} from '../errors.js';
import type { NewEvent, RecordedEvent } from '../event-store.port.js';
import { StubKurrentClient } from '../../../test/support/kurrentdb.stub-client.js';
import { waitFor } from '../../../test/support/wait.js';
import { withDefaultDeadline } from './kurrentdb.client.js';
import { mapKurrentError } from './kurrentdb.errors.js';
import { KurrentDbEventStore } from './kurrentdb.event-store.js';
import { allFilter, USER_STREAMS } from './kurrentdb.filters.js';

function event(type = 'Tested'): NewEvent {
  return {
    id: randomUUID(),
    type,
    data: { n: 1 },
    metadata: { principal: 'spec', correlationId: 'c', causationId: 'x', at: '2024-01-01T00:00:00.000Z', schema: 1 },
  };
}

async function openStore(
  options: { deadlineMs?: number; deadlineGraceMs?: number; maxAppendAttempts?: number } = {},
): Promise<{ store: KurrentDbEventStore; client: StubKurrentClient }> {
  const client = new StubKurrentClient();
  const store = new KurrentDbEventStore({ client, readPageSize: 3, ...options });
  await store.init();
  return { store, client };
}

describe('KurrentDB adapter against the behaviour of kurrentdb-client 1.3.1', () => {
  test('stub of kurrentdb-client 1.3.1: with throwOnAppendFailure=false a conflict resolves success:false, and append refuses instead of returning the other writer’s events', async () => {
    const { store, client } = await openStore();
    client.throwOnAppendFailure = false;
    const other = new KurrentDbEventStore({ client });
    await store.append('vm-1', [event('Created')], 'no_stream');
    let slipped = false;
    client.beforeAppend = async (stream) => {
      if (slipped || stream !== 'vm-1') return;
      slipped = true;
      // Another API instance appends between our tail read and our append.
      await other.append('vm-1', [event('TheirEvent')], 0n);
    };
    const mine = event('MyEvent');
    await assert.rejects(store.append('vm-1', [mine], 0n), (err: unknown) => {
      assert.ok(err instanceof WrongExpectedVersionError, String(err));
      assert.deepEqual([err.streamId, err.expected], ['vm-1', '0']);
      return true;
    });
    const stored = await store.readStream('vm-1');
    assert.deepEqual(
      stored.map((e) => e.type),
      ['Created', 'TheirEvent'],
    );
    assert.ok(!stored.some((e) => e.id === mine.id));
  });

  test('stub of kurrentdb-client 1.3.1: with throwOnAppendFailure=false an append expecting any retries on success:false and returns its own events', async () => {
    const { store, client } = await openStore();
    client.throwOnAppendFailure = false;
    const other = new KurrentDbEventStore({ client });
    await store.append('vm-2', [event('Created')], 'no_stream');
    let slipped = false;
    client.beforeAppend = async (stream) => {
      if (slipped || stream !== 'vm-2') return;
      slipped = true;
      await other.append('vm-2', [event('TheirEvent')], 0n);
    };
    const mine = event('MyEvent');
    const result = await store.append('vm-2', [mine], 'any');
    assert.deepEqual(
      result.events.map((e) => [e.id, e.revision]),
      [[mine.id, 2n]],
    );
  });

  test('stub of kurrentdb-client 1.3.1: every append, checkpoint and read carries a deadline, and every read and the subscription require the leader', async () => {
    const { store, client } = await openStore({ deadlineMs: 4_321 });
    await store.append('vm-3', [event()], 'no_stream');
    await store.readStream('vm-3');
    await store.readAll();
    await store.headPosition();
    await store.writeCheckpoint('sagas', 1n);
    await store.readCheckpoint('sagas');
    const delivered: RecordedEvent[] = [];
    const sub = store.subscribeToAll({ onEvent: async (e) => void delivered.push(e) });
    await waitFor(() => delivered.length > 0, { what: 'the subscription to deliver the first user event' });
    await sub.stop();
    assert.ok(client.appendCalls.length >= 2);
    for (const call of client.appendCalls) assert.equal(call.options.deadline, 4_321);
    assert.deepEqual(
      client.metadataCalls.map((c) => c.options),
      [{ deadline: 4_321 }],
    );
    assert.ok(client.readStreamCalls.length >= 3 && client.readAllCalls.length >= 3);
    for (const call of [...client.readStreamCalls, ...client.readAllCalls]) {
      assert.equal(call.deadline, 4_321);
      assert.equal(call.requiresLeader, true);
    }
    assert.equal(client.subscribeCalls[0]?.requiresLeader, true);
  });

  test('stub of kurrentdb-client 1.3.1: the connection string gets defaultDeadline (the only deadline its Rust read bridge honours) unless the operator set one', () => {
    assert.equal(withDefaultDeadline('kurrentdb://h:2113', 10_000), 'kurrentdb://h:2113?defaultDeadline=10000');
    assert.equal(
      withDefaultDeadline('kurrentdb+discover://c:2113?tls=false', 5_000),
      'kurrentdb+discover://c:2113?tls=false&defaultDeadline=5000',
    );
    assert.equal(
      withDefaultDeadline('kurrentdb://h?tls=false&default_deadline=300', 5_000),
      'kurrentdb://h?tls=false&default_deadline=300',
    );
  });

  test('stub of kurrentdb-client 1.3.1: an append the server never answers ends at its deadline with the client’s DeadlineExceededError, reported as possibly recorded', async () => {
    const { store, client } = await openStore({ deadlineMs: 50, deadlineGraceMs: 5_000 });
    client.hangNext('appendToStream');
    await assert.rejects(store.append('vm-4', [event()], 'no_stream'), (err: unknown) => {
      assert.ok(err instanceof UnavailableError, String(err));
      assert.equal(err.outcomeUnknown, true, 'the append may have landed');
      assert.ok(err.cause instanceof KurrentDeadlineExceededError, String(err.cause));
      return true;
    });
  });

  test('stub of kurrentdb-client 1.3.1: reads the server never answers end at the adapter’s own deadline (the client drops per-call deadlines on reads)', async () => {
    const { store, client } = await openStore({ deadlineMs: 30, deadlineGraceMs: 20 });
    await store.append('vm-5', [event()], 'no_stream');
    client.hangNext('readStream');
    await assert.rejects(store.readStream('vm-5'), (err: unknown) => {
      assert.ok(err instanceof UnavailableError, String(err));
      assert.equal(err.outcomeUnknown, false);
      assert.match(err.message, /readStream.*deadline/);
      return true;
    });
    client.hangNext('readAll');
    await assert.rejects(store.readAll(), UnavailableError);
    client.hangNext('readAll');
    await assert.rejects(store.ping(), UnavailableError);
    // The store still works once the server answers again.
    assert.equal((await store.readStream('vm-5')).length, 1);
  });

  test('stub of kurrentdb-client 1.3.1: AccessDeniedError on append, read or checkpoint becomes the port’s AccessDeniedError (unavailable, nothing recorded)', async () => {
    const { store, client } = await openStore();
    await store.append('vm-6', [event()], 'no_stream');
    const denied = (err: unknown): boolean => {
      assert.ok(err instanceof AccessDeniedError, String(err));
      assert.ok(err instanceof UnavailableError);
      assert.equal(err.outcomeUnknown, false);
      assert.match(err.message, /EVENTSTORE_URL/);
      assert.ok(err.cause instanceof KurrentAccessDeniedError);
      return true;
    };
    client.failNext('appendToStream', new KurrentAccessDeniedError());
    await assert.rejects(store.append('vm-6', [event()], 0n), denied);
    client.failNext('readStream', new KurrentAccessDeniedError());
    await assert.rejects(store.readStream('vm-6'), denied);
    client.failNext('readAll', new KurrentAccessDeniedError());
    await assert.rejects(store.readAll(), denied);
    client.failNext('appendToStream', new KurrentAccessDeniedError());
    await assert.rejects(store.writeCheckpoint('sagas', 1n), denied);
    assert.equal((await store.readStream('vm-6')).length, 1);
  });

  test('stub of kurrentdb-client 1.3.1: a tombstoned stream raises StreamDeletedError on read and on append, a kind of StreamNotFoundError', async () => {
    const { store, client } = await openStore();
    await store.append('vm-7', [event()], 'no_stream');
    client.tombstone('vm-7');
    await assert.rejects(store.readStream('vm-7'), (err: unknown) => {
      assert.ok(err instanceof StreamDeletedError, String(err));
      assert.ok(err instanceof StreamNotFoundError, 'readers treat it as absent');
      assert.equal(err.streamId, 'vm-7');
      assert.match(err.message, /deleted/);
      return true;
    });
    const sent = client.appendCalls.length;
    await assert.rejects(store.append('vm-7', [event()], 'any'), StreamDeletedError);
    await assert.rejects(store.append('vm-7', [event()], 'no_stream'), StreamDeletedError);
    assert.equal(client.appendCalls.length, sent, 'nothing sent to a stream that can never be written');
    // The append path's own error (batchAppend unpacks StreamDeleted) maps the same way.
    const mapped = mapKurrentError(KurrentStreamDeletedError.fromStreamName('vm-8'), { operation: 'append' });
    assert.ok(mapped instanceof StreamDeletedError);
    assert.equal(mapped.streamId, 'vm-8');
  });

  test('stub of kurrentdb-client 1.3.1: reads require the leader, so a lagging follower never hides the event just appended', async () => {
    const { store, client } = await openStore();
    client.followerLag = 1;
    const first = await store.append('vm-9', [event('A')], 'no_stream');
    const second = await store.append('vm-9', [event('B')], first.nextExpectedRevision);
    assert.deepEqual(
      (await store.readStream('vm-9')).map((e) => e.type),
      ['A', 'B'],
    );
    assert.deepEqual(
      (await store.readAll()).map((e) => e.type),
      ['A', 'B'],
    );
    assert.equal(await store.headPosition(), second.position);
  });

  test('stub of kurrentdb-client 1.3.1: $all is filtered by the server — system streams, types and prefixes — and pages count only matching events', async () => {
    const { store, client } = await openStore();
    for (let i = 0; i < 7; i++) client.writeSystemEvent();
    await store.writeCheckpoint('sagas', 1n);
    await store.append('vm-10', [event('A'), event('B.x'), event('A')], 'no_stream');
    for (let i = 0; i < 7; i++) client.writeSystemEvent();
    await store.append('host-1', [event('BAx'), event('B.x')], 'no_stream');
    client.readAllCalls.length = 0;
    assert.deepEqual(
      (await store.readAll()).map((e) => `${e.streamId}:${e.type}`),
      ['vm-10:A', 'vm-10:B.x', 'vm-10:A', 'host-1:BAx', 'host-1:B.x'],
    );
    assert.deepEqual(client.readAllCalls[0]?.filter, {
      filterOn: 'streamName',
      regex: '^[^$]',
      checkpointInterval: 1,
    });
    // 5 user events in pages of 3 that overlap by one (a forward read includes its start): three
    // reads, whatever the 15 system records in between (filtered client-side it took about ten).
    assert.equal(client.readAllCalls.length, 3);
    client.readAllCalls.length = 0;
    assert.deepEqual(
      (await store.readAll({ types: ['B.x'] })).map((e) => `${e.streamId}:${e.type}`),
      ['vm-10:B.x', 'host-1:B.x'],
      'a type is matched exactly: "B.x" is not a pattern',
    );
    assert.equal(client.readAllCalls[0]?.filter?.filterOn, 'eventType');
    client.readAllCalls.length = 0;
    assert.deepEqual(
      (await store.readAll({ streamPrefixes: ['host-'] })).map((e) => e.type),
      ['BAx', 'B.x'],
    );
    assert.deepEqual(client.readAllCalls[0]?.filter, {
      filterOn: 'streamName',
      prefixes: ['host-'],
      checkpointInterval: 1,
    });
    // Both: the server takes the types, the store checks the prefixes.
    assert.deepEqual(
      (await store.readAll({ types: ['A', 'B.x'], streamPrefixes: ['host-'] })).map((e) => e.type),
      ['B.x'],
    );
    const delivered: RecordedEvent[] = [];
    const sub = store.subscribeToAll({ onEvent: async (e) => void delivered.push(e) });
    await waitFor(() => delivered.length > 0, { what: 'the subscription to deliver the first user event' });
    await sub.stop();
    assert.equal(client.subscribeCalls[0]?.filter?.filterOn, 'streamName');
  });

  test('stub of kurrentdb-client 1.3.1: the $all filters sent are the ones its own streamNameFilter() and eventTypeFilter() build', () => {
    // The client's helpers add `checkpointReached: undefined`; JSON drops it, as gRPC does.
    const same = (a: unknown, b: unknown): void =>
      assert.deepEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
    same(USER_STREAMS, streamNameFilter({ regex: '^[^$]' }));
    same(allFilter({ streamPrefixes: ['vm-', 'host-'] }), streamNameFilter({ prefixes: ['vm-', 'host-'] }));
    same(allFilter({ types: ['VmCreated', 'a.b'] }), eventTypeFilter({ regex: '^(?:VmCreated|a\\.b)$' }));
    same(allFilter({ types: [], streamPrefixes: [] }), USER_STREAMS);
  });
});
