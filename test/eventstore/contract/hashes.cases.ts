import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordedEvent } from '../../../src/eventstore/event-store.port.js';
import { GENESIS_HASH, verifyChain } from '../../../src/eventstore/hash-chain.js';
import { type ContractScope, newEvent, visibleThrough } from './support.js';

/** The hash chain: each event's hash links to the one before, and the slim read of places and hashes. */
export function hashCases(scope: ContractScope): void {
  const { target, stream } = scope;

  test('hash chain: verifies, links prevHash across appends, detects tampering', async () => {
    const { store } = scope;
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

  test('readAllHashes: the places and chain hashes of the events readAll reads, after a position, at most maxCount', async (t) => {
    const { store } = scope;
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
}
