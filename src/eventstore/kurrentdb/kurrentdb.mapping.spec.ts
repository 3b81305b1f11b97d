import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DeadlineExceededError as KurrentDeadlineExceededError,
  StreamNotFoundError as KurrentStreamNotFoundError,
  UnavailableError as KurrentUnavailableError,
} from '@kurrent/kurrentdb-client';
import { StreamNotFoundError, UnavailableError, WrongExpectedVersionError } from '../errors.js';
import type { NewEvent, RecordedEvent } from '../event-store.port.js';
import { GENESIS_HASH, verifyChain } from '../hash-chain.js';
import { normalizeKurrentUrl } from './kurrentdb.client.js';
import { mapKurrentError } from './kurrentdb.errors.js';
import { KurrentDbEventStore } from './kurrentdb.event-store.js';
import { positionOf } from './kurrentdb.records.js';
import { rawGrpcUnavailable, StubKurrentClient } from '../../../test/support/kurrentdb.stub-client.js';

const STUB = '(stubbed KurrentDB client: no server can run here)';

function event(type = 'Tested'): NewEvent {
  return {
    id: randomUUID(),
    type,
    data: { n: 1 },
    metadata: { principal: 'spec', correlationId: 'c', causationId: 'x', at: '2024-01-01T00:00:00.000Z', schema: 1 },
  };
}

async function openStore(
  options: { maxAppendAttempts?: number; giveUpAfterMs?: number } = {},
): Promise<{ store: KurrentDbEventStore; client: StubKurrentClient }> {
  const client = new StubKurrentClient();
  const store = new KurrentDbEventStore({ client, readPageSize: 3, ...options });
  await store.init();
  return { store, client };
}

function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (condition()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(check, 10);
    };
    check();
  });
}

describe('KurrentDB adapter: option and error mapping', () => {
  test(`append sends streamState (never expectedRevision): no_stream, then the tail revision ${STUB}`, async () => {
    const { store, client } = await openStore();
    await store.append('vm-1', [event(), event()], 'no_stream');
    await store.append('vm-1', [event()], 'any');
    await store.append('vm-1', [event()], 2n);
    await store.append('vm-1', [event()], 'stream_exists');
    assert.deepEqual(
      client.appendCalls.map((c) => c.options),
      [
        { streamState: 'no_stream', deadline: 10_000 },
        { streamState: 1n, deadline: 10_000 },
        { streamState: 2n, deadline: 10_000 },
        { streamState: 3n, deadline: 10_000 },
      ],
    );
    for (const call of client.appendCalls) assert.ok(!('expectedRevision' in call.options));
  });

  test(`append writes JSON events whose metadata carries the hash chain ${STUB}`, async () => {
    const { store, client } = await openStore();
    const first = await store.append('vm-2', [event('A')], 'no_stream');
    await store.append('vm-2', [event('B')], 0n);
    const sent = client.appendCalls.flatMap((c) => c.events);
    assert.ok(sent.every((e) => e.contentType === 'application/json'));
    const stored = await store.readStream('vm-2');
    assert.equal(verifyChain(stored), null);
    assert.equal(stored[0]?.metadata.prevHash, GENESIS_HASH);
    assert.equal(stored[1]?.metadata.prevHash, first.events[0]?.metadata.hash);
  });

  test(`a refused connection on append (raw gRPC code 14) becomes UnavailableError ${STUB}`, async () => {
    const { store, client } = await openStore();
    client.failNext('appendToStream', rawGrpcUnavailable());
    await assert.rejects(store.append('vm-3', [event()], 'any'), (err: unknown) => {
      assert.ok(err instanceof UnavailableError, String(err));
      assert.match(err.message, /append/);
      assert.equal((err.cause as { code?: unknown }).code, 14);
      return true;
    });
  });

  test(`client unavailable / deadline errors on reads and ping become UnavailableError ${STUB}`, async () => {
    const { store, client } = await openStore();
    await store.append('vm-4', [event()], 'no_stream');
    client.failNext('readStream', new KurrentUnavailableError());
    await assert.rejects(store.readStream('vm-4'), UnavailableError);
    client.failNext('readAll', new KurrentDeadlineExceededError());
    await assert.rejects(store.readAll(), UnavailableError);
    client.failNext('readAll', rawGrpcUnavailable());
    await assert.rejects(store.ping(), UnavailableError);
    client.failNext('readAll', rawGrpcUnavailable());
    await assert.rejects(store.init(), UnavailableError);
  });

  test(`the client's StreamNotFoundError becomes the port's, naming the stream ${STUB}`, async () => {
    const { store, client } = await openStore();
    await assert.rejects(store.readStream('vm-missing'), (err: unknown) => {
      assert.ok(err instanceof StreamNotFoundError);
      assert.equal(err.streamId, 'vm-missing');
      return true;
    });
    client.failNext('readStream', new KurrentStreamNotFoundError(undefined, 'vm-other'));
    await assert.rejects(store.readStream('vm-other', { direction: 'backwards' }), StreamNotFoundError);
  });

  test(`an exact revision that does not match is refused before anything is sent ${STUB}`, async () => {
    const { store, client } = await openStore();
    await store.append('vm-5', [event()], 'no_stream');
    const before = client.appendCalls.length;
    await assert.rejects(store.append('vm-5', [event()], 4n), (err: unknown) => {
      assert.ok(err instanceof WrongExpectedVersionError);
      assert.deepEqual([err.streamId, err.expected, err.actual], ['vm-5', '4', '0']);
      return true;
    });
    await assert.rejects(store.append('vm-5', [event()], 'no_stream'), WrongExpectedVersionError);
    await assert.rejects(store.append('vm-6', [event()], 'stream_exists'), WrongExpectedVersionError);
    assert.equal(client.appendCalls.length, before);
  });

  test(`a writer slipping in: an exact revision ends in WrongExpectedVersionError ${STUB}`, async () => {
    const { store, client } = await openStore();
    await store.append('vm-7', [event()], 'no_stream');
    let slipped = false;
    client.beforeAppend = async (stream) => {
      if (slipped || stream !== 'vm-7') return;
      slipped = true;
      await client.appendToStream('vm-7', [{ ...toJson(event('Intruder')) }], { streamState: 'any' });
    };
    await assert.rejects(store.append('vm-7', [event()], 0n), (err: unknown) => {
      assert.ok(err instanceof WrongExpectedVersionError);
      assert.deepEqual([err.expected, err.actual], ['0', '1']);
      return true;
    });
  });

  test(`a writer slipping in: \`any\` re-reads the tail and chains onto the new last event ${STUB}`, async () => {
    const { store, client } = await openStore();
    await store.append('vm-8', [event()], 'no_stream');
    let slipped = false;
    client.beforeAppend = async (stream) => {
      if (slipped || stream !== 'vm-8') return;
      slipped = true;
      await store.append('vm-8', [event('Intruder')], 'any');
    };
    const result = await store.append('vm-8', [event('Mine')], 'any');
    assert.equal(result.nextExpectedRevision, 2n);
    const stored = await store.readStream('vm-8');
    assert.deepEqual(
      stored.map((e) => e.type),
      ['Tested', 'Intruder', 'Mine'],
    );
    assert.equal(verifyChain(stored), null);
  });

  test(`conflicts on every attempt end in WrongExpectedVersionError after maxAppendAttempts ${STUB}`, async () => {
    const { store, client } = await openStore({ maxAppendAttempts: 3 });
    await store.append('vm-9', [event()], 'no_stream');
    let intruding = false;
    client.beforeAppend = async (stream) => {
      if (intruding || stream !== 'vm-9') return;
      intruding = true;
      await client.appendToStream('vm-9', [toJson(event('Intruder'))], { streamState: 'any' });
      intruding = false;
    };
    const before = client.appendCalls.length;
    await assert.rejects(store.append('vm-9', [event()], 'any'), WrongExpectedVersionError);
    assert.equal(client.appendCalls.filter((c, i) => i >= before && c.events[0]?.type === 'Tested').length, 3);
  });

  test(`a replayed append at the same place succeeds without writing again ${STUB}`, async () => {
    const { store, client } = await openStore();
    const batch = [event(), event()];
    const first = await store.append('vm-10', batch, 'no_stream');
    const calls = client.appendCalls.length;
    assert.deepEqual(await store.append('vm-10', batch, 'no_stream'), first);
    assert.deepEqual(await store.append('vm-10', batch, 'any'), first);
    const next = [event()];
    const second = await store.append('vm-10', next, 1n);
    assert.deepEqual(await store.append('vm-10', next, 1n), second);
    assert.equal(client.appendCalls.length, calls + 1);
  });

  test(`positions are commit positions; readAll resumes at {commit, prepare} = after and skips it ${STUB}`, async () => {
    const { store, client } = await openStore();
    const a = await store.append('vm-11', [event('A1'), event('A2')], 'no_stream');
    client.writeSystemEvent();
    await store.writeCheckpoint('projector', a.position);
    const b = await store.append('vm-12', [event('B1'), event('B2'), event('B3'), event('B4')], 'no_stream');
    for (const e of [...a.events, ...b.events]) assert.equal(e.position % 137n, 1000n % 137n);
    client.readAllCalls.length = 0;
    const after = await store.readAll({ after: a.position });
    assert.deepEqual(
      after.map((e) => e.type),
      ['B1', 'B2', 'B3', 'B4'],
    );
    assert.deepEqual(client.readAllCalls[0]?.fromPosition, { commit: a.position, prepare: a.position });
    assert.equal(client.readAllCalls[0]?.direction, 'forwards');
    // Pages of 3 join without a gap or a repeat.
    assert.ok(client.readAllCalls.length > 1);
    assert.equal(await store.headPosition(), b.position);
  });

  test(`an event read without a log position is reported, not guessed ${STUB}`, () => {
    assert.throws(
      () => positionOf({ streamId: 's', id: 'e', revision: 0n, type: 't', isJson: true, data: {} }),
      /without a log position/,
    );
  });

  test(`writeCheckpoint appends to $virtledger-checkpoint-<name> with streamState any and caps it ${STUB}`, async () => {
    const { store, client } = await openStore();
    await store.writeCheckpoint('sagas', 5n);
    await store.writeCheckpoint('sagas', 9n);
    assert.deepEqual(
      client.appendCalls.map((c) => [c.streamName, c.options]),
      [
        ['$virtledger-checkpoint-sagas', { streamState: 'any', deadline: 10_000 }],
        ['$virtledger-checkpoint-sagas', { streamState: 'any', deadline: 10_000 }],
      ],
    );
    assert.deepEqual(client.metadataCalls, [
      { streamName: '$virtledger-checkpoint-sagas', metadata: { maxCount: 8 }, options: { deadline: 10_000 } },
    ]);
    assert.equal(await store.readCheckpoint('sagas'), 9n);
    assert.deepEqual(await store.readAll(), []);
    client.failNext('appendToStream', rawGrpcUnavailable());
    await assert.rejects(store.writeCheckpoint('sagas', 10n), UnavailableError);
  });

  test(`appending to a $-prefixed (system) stream is refused ${STUB}`, async () => {
    const { store } = await openStore();
    await assert.rejects(store.append('$virtledger-checkpoint-x', [event()], 'any'), TypeError);
  });

  test(`subscribeToAll starts after the checkpoint and skips system streams ${STUB}`, async () => {
    const { store, client } = await openStore();
    const a = await store.append('vm-13', [event('A')], 'no_stream');
    client.writeSystemEvent();
    const delivered: RecordedEvent[] = [];
    const sub = store.subscribeToAll({ after: a.position, onEvent: async (e) => void delivered.push(e) });
    client.writeSystemEvent();
    await store.append('vm-13', [event('B')], 0n);
    await waitFor(() => delivered.length === 1, 'B');
    await sub.stop();
    assert.deepEqual(client.subscribeCalls[0]?.fromPosition, { commit: a.position, prepare: a.position });
    assert.deepEqual(
      delivered.map((e) => e.type),
      ['B'],
    );
    assert.equal(client.openSubscriptions, 0, 'stop() unsubscribed');
  });

  test(`a dropped subscription resubscribes from the last delivered position, without repeats ${STUB}`, async () => {
    const { store, client } = await openStore();
    const delivered: RecordedEvent[] = [];
    const sub = store.subscribeToAll({ onEvent: async (e) => void delivered.push(e) });
    await store.append('vm-14', [event('A'), event('B')], 'no_stream');
    await waitFor(() => delivered.length === 2, 'A and B');
    client.breakSubscriptions(rawGrpcUnavailable());
    client.failNext('subscribeToAll', rawGrpcUnavailable());
    const c = await store.append('vm-14', [event('C')], 1n);
    await waitFor(() => delivered.length === 3, 'C after resubscribing', 10_000);
    await sub.stop();
    assert.deepEqual(
      delivered.map((e) => e.type),
      ['A', 'B', 'C'],
    );
    const last = client.subscribeCalls[client.subscribeCalls.length - 1];
    assert.deepEqual(last?.fromPosition, { commit: delivered[1]?.position, prepare: delivered[1]?.position });
    assert.equal(sub.lastPosition, c.position);
  });

  test(`a subscription that cannot reach the server past its budget reports onError ${STUB}`, async () => {
    const { store, client } = await openStore({ giveUpAfterMs: 300 });
    for (let i = 0; i < 50; i++) client.failNext('subscribeToAll', rawGrpcUnavailable());
    const errors: Error[] = [];
    const sub = store.subscribeToAll({ onEvent: async () => undefined, onError: (err) => errors.push(err) });
    await waitFor(() => errors.length > 0, 'onError', 10_000);
    assert.ok(errors[0] instanceof UnavailableError);
    await sub.stop();
  });

  test(`mapKurrentError: every shape of "server unreachable" becomes UnavailableError ${STUB}`, () => {
    const ctx = { operation: 'test' };
    const unreachable: unknown[] = [
      rawGrpcUnavailable(),
      Object.assign(new Error('4 DEADLINE_EXCEEDED'), { code: 4 }),
      new KurrentUnavailableError(),
      new KurrentDeadlineExceededError(),
      Object.assign(new Error('x'), { type: 'not-leader' }),
      Object.assign(new Error('2 UNKNOWN'), { code: 2, details: 'client error (Connect)' }),
    ];
    for (const err of unreachable) assert.ok(mapKurrentError(err, ctx) instanceof UnavailableError, String(err));
    const other = new Error('something else');
    assert.equal(mapKurrentError(other, ctx), other);
    const wev = mapKurrentError(
      Object.assign(new Error('wrong'), { type: 'wrong-expected-version', streamName: 's', actualState: 3n }),
      { operation: 'append', streamId: 's', expected: 1n },
    );
    assert.ok(wev instanceof WrongExpectedVersionError);
    assert.deepEqual([wev.expected, wev.actual], ['1', '3']);
  });

  test(`esdb:// URLs are rewritten to kurrentdb:// ${STUB}`, () => {
    assert.equal(normalizeKurrentUrl('esdb://localhost:2113?tls=false'), 'kurrentdb://localhost:2113?tls=false');
    assert.equal(normalizeKurrentUrl('esdb+discover://c:2113'), 'kurrentdb+discover://c:2113');
    assert.equal(normalizeKurrentUrl('kurrentdb://h:2113'), 'kurrentdb://h:2113');
  });
});

function toJson(e: NewEvent): {
  id: string;
  contentType: 'application/json';
  type: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
} {
  return {
    id: e.id,
    contentType: 'application/json',
    type: e.type,
    data: e.data,
    metadata: { ...e.metadata, prevHash: GENESIS_HASH, hash: GENESIS_HASH },
  };
}
