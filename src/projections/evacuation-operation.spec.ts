import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { applyEvacuationStarted, evacuationChildDone } from './evacuation-operation.js';
import type { ProjectionTx } from './projection.js';
import { ReadModelKeys } from './read-model.keys.js';
import type { OperationView } from './read-model.types.js';

const keys = new ReadModelKeys('t');
const AT = '2030-01-01T00:00:00.000Z';

function memoryTx(): ProjectionTx & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    get: async <T>(k: string) => structuredClone(data.get(k)) as T | undefined,
    set: (k, v) => void data.set(k, structuredClone(v)),
    del: (k) => void data.delete(k),
    index: () => undefined,
    unindex: () => undefined,
  };
}

const child = (
  id: string,
  vmId: string,
  status: OperationView['status'],
  error: string | null = null,
): OperationView => ({
  id,
  kind: 'migrate',
  vmId,
  status,
  error,
  principal: 'admin#t',
  createdAt: AT,
  updatedAt: AT,
});

const recorded = { position: 10n, metadata: { at: AT, principal: 'admin#t' } } as unknown as RecordedEvent;
const children = [
  { vmId: 'vm-1', operationId: 'm1', targetHostId: 'b', live: true },
  { vmId: 'vm-2', operationId: 'm2', targetHostId: 'c', live: false },
];

describe('evacuation parent operation (projection)', () => {
  test('children done before and after the parent each count once; refusals count as done', async () => {
    const tx = memoryTx();
    tx.set(keys.operation('m1'), child('m1', 'vm-1', 'succeeded'));
    tx.set(keys.operation('m2'), child('m2', 'vm-2', 'running'));
    await applyEvacuationStarted(
      keys,
      recorded,
      'a',
      { operationId: 'e', children, refused: [{ vmId: 'vm-3', reason: 'busy' }] },
      tx,
    );
    let parent = (await tx.get<OperationView>(keys.operation('e')))!;
    assert.equal(parent.status, 'running');
    assert.deepEqual([parent.progress?.done, parent.progress?.total], [2, 3]);
    assert.equal((await tx.get<OperationView>(keys.operation('m2')))!.parentOperationId, 'e');

    await evacuationChildDone(
      keys,
      { ...child('m2', 'vm-2', 'failed', 'net down'), parentOperationId: 'e' },
      'a',
      AT,
      tx,
    );
    parent = (await tx.get<OperationView>(keys.operation('e')))!;
    assert.equal(parent.status, 'failed');
    assert.equal(parent.error, '2 of 3 VMs could not move (see result.notMoved)');
    assert.deepEqual(parent.result, {
      moved: [{ vmId: 'vm-1', targetHostId: 'b', operationId: 'm1' }],
      notMoved: [
        { vmId: 'vm-3', reason: 'busy' },
        { vmId: 'vm-2', reason: 'net down', operationId: 'm2' },
      ],
    });
  });

  test('nothing to move → succeeded at once', async () => {
    const tx = memoryTx();
    await applyEvacuationStarted(keys, recorded, 'a', { operationId: 'e0', children: [], refused: [] }, tx);
    const parent = (await tx.get<OperationView>(keys.operation('e0')))!;
    assert.equal(parent.status, 'succeeded');
    assert.deepEqual([parent.progress?.done, parent.progress?.total], [0, 0]);
  });
});
