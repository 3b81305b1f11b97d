import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamNotFoundError } from '../../../src/eventstore/errors.js';
import type { RecordedEvent } from '../../../src/eventstore/event-store.port.js';
import { assertStrictlyIncreasing, type ContractScope, newEvent, visibleThrough } from './support.js';

/** Reads: one stream (readStream), the global log (readAll), its head and its count. */
export function readCases(scope: ContractScope): void {
  const { target, stream } = scope;

  test('readStream: forwards, backwards, fromRevision, maxCount', async () => {
    const { store } = scope;
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
    const { store } = scope;
    const s = stream('missing');
    await assert.rejects(store.readStream(s), (err: unknown) => {
      assert.ok(err instanceof StreamNotFoundError);
      assert.equal(err.streamId, s);
      return true;
    });
    await assert.rejects(store.readStream(s, { direction: 'backwards', maxCount: 1 }), StreamNotFoundError);
  });

  test("readStream with ifMissing 'empty': a missing stream reads as [], an existing one as usual", async () => {
    const { store } = scope;
    const missing = stream('missing-empty');
    assert.deepEqual(await store.readStream(missing, { ifMissing: 'empty' }), []);
    assert.deepEqual(await store.readStream(missing, { fromRevision: 3n, ifMissing: 'empty' }), []);
    assert.deepEqual(await store.readStream(missing, { direction: 'backwards', maxCount: 1, ifMissing: 'empty' }), []);
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
    const { store } = scope;
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
    const { store, run } = scope;
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

  test('headPosition is the position of the last event', async () => {
    const { store } = scope;
    const r = await store.append(stream('head'), [newEvent(), newEvent()], 'no_stream');
    await visibleThrough(store, r.position);
    const head = await store.headPosition();
    assert.ok(head !== undefined);
    if (target.sharedLog) assert.ok(head >= r.position);
    else assert.equal(head, r.position);
  });

  test('countEvents: the whole log, and the log up to a position, as many as readAll reads', async (t) => {
    const { store } = scope;
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
}
