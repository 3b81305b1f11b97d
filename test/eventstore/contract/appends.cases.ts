import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WrongExpectedVersionError } from '../../../src/eventstore/errors.js';
import type { ExpectedState } from '../../../src/eventstore/event-store.port.js';
import { verifyChain } from '../../../src/eventstore/hash-chain.js';
import { type ContractScope, newEvent } from './support.js';

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

/** Appends: the expected-state checks, concurrent appends, what an append returns, idempotent re-appends. */
export function appendCases(scope: ContractScope): void {
  const { target, stream } = scope;

  test('no_stream: creates a stream at revision 0, refuses an existing stream', async () => {
    const { store } = scope;
    const s = stream('no-stream');
    const first = await store.append(s, [newEvent()], 'no_stream');
    assert.equal(first.nextExpectedRevision, 0n);
    assert.equal(first.events[0]?.revision, 0n);
    await rejectsWrongExpected(store.append(s, [newEvent()], 'no_stream'), s, 'no_stream', '0');
  });

  test('stream_exists: refuses a missing stream, appends to an existing one', async () => {
    const { store } = scope;
    const s = stream('exists');
    await rejectsWrongExpected(store.append(s, [newEvent()], 'stream_exists'), s, 'stream_exists', 'no_stream');
    await store.append(s, [newEvent()], 'no_stream');
    const second = await store.append(s, [newEvent(), newEvent()], 'stream_exists');
    assert.equal(second.nextExpectedRevision, 2n);
  });

  test('exact revision: appends when it matches, refuses stale, future and missing-stream revisions', async () => {
    const { store } = scope;
    const s = stream('exact');
    await rejectsWrongExpected(store.append(s, [newEvent()], 0n), s, '0', 'no_stream');
    await store.append(s, [newEvent(), newEvent()], 'no_stream');
    const ok = await store.append(s, [newEvent()], 1n);
    assert.equal(ok.nextExpectedRevision, 2n);
    await rejectsWrongExpected(store.append(s, [newEvent()], 1n), s, '1', '2');
    await rejectsWrongExpected(store.append(s, [newEvent()], 7n), s, '7', '2');
  });

  test('any: appends to missing and existing streams', async () => {
    const { store } = scope;
    const s = stream('any');
    assert.equal((await store.append(s, [newEvent()], 'any')).nextExpectedRevision, 0n);
    assert.equal((await store.append(s, [newEvent(), newEvent()], 'any')).nextExpectedRevision, 2n);
  });

  test('a refused append writes nothing', async () => {
    const { store } = scope;
    const s = stream('refused');
    await store.append(s, [newEvent()], 'no_stream');
    await assert.rejects(store.append(s, [newEvent(), newEvent()], 5n), WrongExpectedVersionError);
    assert.equal((await store.readStream(s)).length, 1);
  });

  test('20 concurrent appends at one revision: exactly one wins', async () => {
    const { store } = scope;
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
    const { store } = scope;
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
    const { store } = scope;
    const s = stream('returned');
    const result = await store.append(s, [newEvent('A', { n: 1 }), newEvent('B', { when: new Date(0) })], 'no_stream');
    const stored = await store.readStream(s);
    assert.deepEqual(result.events, stored);
    assert.equal(result.position, stored[1]?.position);
    assert.equal(result.nextExpectedRevision, 1n);
    // Values that are not JSON come back the way JSON stores them, and still verify.
    assert.deepEqual(stored[1]?.data, { when: new Date(0).toISOString() });
    assert.equal(verifyChain(stored), null);
  });

  test('re-appending the same events at the same place is an idempotent success', async () => {
    const { store } = scope;
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
      const { store } = scope;
      const s = stream('dup');
      const e = newEvent();
      await store.append(s, [e], 'no_stream');
      await store.append(s, [newEvent()], 0n);
      await assert.rejects(store.append(s, [e], 1n), WrongExpectedVersionError);
      await assert.rejects(store.append(stream('dup-other'), [e], 'any'), WrongExpectedVersionError);
      assert.equal((await store.readStream(s)).length, 2);
    },
  );

  test('expected states are checked against the stream, not the caller', async () => {
    const { store } = scope;
    // Guards the exhaustiveness of ExpectedState handling across adapters.
    const s = stream('states');
    const states: ExpectedState[] = ['no_stream', 0n, 'stream_exists', 'any', 3n];
    const revisions: bigint[] = [];
    for (const st of states) revisions.push((await store.append(s, [newEvent()], st)).nextExpectedRevision);
    assert.deepEqual(revisions, [0n, 1n, 2n, 3n, 4n]);
  });
}
