import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContractScope } from './support.js';

/** Checkpoints: a name's last position, kept apart from the global log. */
export function checkpointCases(scope: ContractScope): void {
  const { stream } = scope;

  test('checkpoints: unknown reads undefined, last write wins', async () => {
    const { store } = scope;
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
    const { store } = scope;
    const head = await store.headPosition();
    await store.writeCheckpoint(stream('hidden'), 1n);
    const after = await store.readAll({ after: head });
    assert.ok(after.every((e) => !e.streamId.includes('checkpoint')));
  });
}
