import { describe, it } from 'node:test';
import { createdOn, sagaSpec, VM_ID } from '../../test/support/saga-spec.js';
import { snapshotSaga } from './snapshot.saga.js';

const saga = sagaSpec(snapshotSaga);
const target = (operationId: string) => ({ hostId: 'host-a', vmId: VM_ID, operationId });

describe('snapshot saga', () => {
  it('a snapshot request carries its name and whether memory is included', () => {
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmSnapshotRequested', data: { operationId: 'op-s', name: 'before-upgrade', memory: true } })
      .then([{ type: 'enqueue', ...target('op-s'), step: 'snapshot', args: { name: 'before-upgrade', memory: true } }]);
  });

  it('a revert and a snapshot delete name the snapshot they act on', () => {
    const withSnapshot = [
      ...createdOn('host-a'),
      {
        type: 'VmSnapshotTaken' as const,
        data: { operationId: 'op-s', name: 's1', memory: false, createdAt: '2026-01-01T00:00:00.000Z' },
      },
    ];
    saga
      .given(withSnapshot)
      .when({ type: 'VmSnapshotRevertRequested', data: { operationId: 'op-r', name: 's1' } })
      .then([{ type: 'enqueue', ...target('op-r'), step: 'revert', args: { name: 's1' } }]);
    saga
      .given(withSnapshot)
      .when({ type: 'VmSnapshotDeleteRequested', data: { operationId: 'op-d', name: 's1' } })
      .then([{ type: 'enqueue', ...target('op-d'), step: 'deleteSnapshot', args: { name: 's1' } }]);
  });

  it('a VM not placed on any host yet gets no job', () => {
    saga
      .given(createdOn('host-a').slice(0, 1))
      .when({ type: 'VmSnapshotRequested', data: { operationId: 'op-s', name: 's1', memory: false } })
      .thenNothing();
  });

  it('results and other operations are none of its business', () => {
    saga
      .given(createdOn('host-a'))
      .when({
        type: 'VmSnapshotTaken',
        data: { operationId: 'op-s', name: 's1', memory: false, createdAt: '2026-01-01T00:00:00.000Z' },
      })
      .thenNothing();
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmStartRequested', data: { operationId: 'op-x' } })
      .thenNothing();
  });
});
