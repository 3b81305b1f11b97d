import { describe, it } from 'node:test';
import { createdOn, sagaSpec, VM_ID } from '../../test/support/saga-spec.js';
import { lifecycleSaga } from './lifecycle.saga.js';

const saga = sagaSpec(lifecycleSaga);
const target = (operationId: string) => ({ hostId: 'host-a', vmId: VM_ID, operationId });

describe('lifecycle saga', () => {
  it('a start request puts one start job on the VM host', () => {
    saga
      .given(createdOn('host-a', { running: false }))
      .when({ type: 'VmStartRequested', data: { operationId: 'op-2' } })
      .then([{ type: 'enqueue', ...target('op-2'), step: 'start', args: {} }]);
  });

  it('a graceful stop carries force=false and its timeout to the job', () => {
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmStopRequested', data: { operationId: 'op-2', force: false, timeoutMs: 5000 } })
      .then([{ type: 'enqueue', ...target('op-2'), step: 'stop', args: { force: false, timeoutMs: 5000 } }]);
  });

  it('a forced stop without a timeout carries no timeout at all (the driver default applies)', () => {
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmStopRequested', data: { operationId: 'op-2', force: true } })
      .then([{ type: 'enqueue', ...target('op-2'), step: 'stop', args: { force: true } }]);
  });

  it('reboot, pause and resume each become the job of the same name', () => {
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmRebootRequested', data: { operationId: 'op-r' } })
      .then([{ type: 'enqueue', ...target('op-r'), step: 'reboot', args: {} }]);
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmPauseRequested', data: { operationId: 'op-p' } })
      .then([{ type: 'enqueue', ...target('op-p'), step: 'pause', args: {} }]);
    saga
      .given([...createdOn('host-a'), { type: 'VmPaused', data: { operationId: 'op-p' } }])
      .when({ type: 'VmResumeRequested', data: { operationId: 'op-u' } })
      .then([{ type: 'enqueue', ...target('op-u'), step: 'resume', args: {} }]);
  });

  it('the job goes to the host the VM is on now, after a migration', () => {
    const migrated = [
      ...createdOn('host-a'),
      {
        type: 'VmMigrationRequested' as const,
        data: { operationId: 'op-m', sourceHostId: 'host-a', targetHostId: 'host-b', live: true },
      },
      {
        type: 'VmMigrated' as const,
        data: { operationId: 'op-m', sourceHostId: 'host-a', targetHostId: 'host-b' },
      },
    ];
    saga
      .given(migrated)
      .when({ type: 'VmStopRequested', data: { operationId: 'op-s', force: false } })
      .then([
        { type: 'enqueue', hostId: 'host-b', vmId: VM_ID, operationId: 'op-s', step: 'stop', args: { force: false } },
      ]);
  });

  it('a VM not placed on any host yet gets no job', () => {
    const unplaced = createdOn('host-a').slice(0, 1);
    saga
      .given(unplaced)
      .when({ type: 'VmStartRequested', data: { operationId: 'op-2' } })
      .thenNothing();
  });

  it('results and other operations are none of its business', () => {
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmStopped', data: { operationId: 'op-2' } })
      .thenNothing();
    saga
      .given(createdOn('host-a'))
      .when({ type: 'VmSnapshotRequested', data: { operationId: 'op-2', name: 's1', memory: false } })
      .thenNothing();
  });
});
