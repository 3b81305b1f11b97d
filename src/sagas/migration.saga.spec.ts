import { describe, it } from 'node:test';
import type { VmEvent } from '../domain/vm/vm.events.js';
import { createdOn, sagaSpec, VM_ID } from '../../test/support/saga-spec.js';
import { finishJobId, migrateJobId } from '../application/jobs.js';
import { migrationSaga } from './migration.saga.js';

const saga = sagaSpec(migrationSaga);
const op = 'op-m';
const ENDPOINT = { host: '10.0.0.2', port: 49152, token: 't0k' };

const requested = (live: boolean): VmEvent => ({
  type: 'VmMigrationRequested',
  data: { operationId: op, sourceHostId: 'host-a', targetHostId: 'host-b', live },
});
const prepared: VmEvent = {
  type: 'VmMigrationTargetPrepared',
  data: { operationId: op, targetHostId: 'host-b', endpoint: ENDPOINT },
};
const handedOff: VmEvent = { type: 'VmMigrationHandedOff', data: { operationId: op, targetHostId: 'host-b' } };
const failed: VmEvent = {
  type: 'VmOperationFailed',
  data: { operationId: op, kind: 'migrate', step: 'migrate', reason: 'connection reset', state: 'running' },
};

describe('migration saga', () => {
  it('a request reserves the spec on the target, then prepares the target to receive (naming the source)', () => {
    saga
      .given(createdOn('host-a'))
      .when(requested(false))
      .then([
        {
          type: 'reserve',
          hostId: 'host-b',
          vmId: VM_ID,
          operationId: op,
          vcpus: 2,
          memoryMiB: 1024,
          diskGiB: 8,
          failStep: 'prepareIncoming',
        },
        {
          type: 'enqueue',
          hostId: 'host-b',
          vmId: VM_ID,
          operationId: op,
          step: 'prepareIncoming',
          // The target's worker queues the source's migrate itself once it listens.
          args: { live: false, sourceHostId: 'host-a' },
        },
      ]);
  });

  it('a prepared target makes the source send the VM to the endpoint the target gave', () => {
    saga
      .given([...createdOn('host-a'), requested(true)])
      .when(prepared)
      .then([
        {
          type: 'enqueue',
          hostId: 'host-a',
          vmId: VM_ID,
          operationId: op,
          step: 'migrate',
          args: { live: true, endpoint: ENDPOINT, targetHostId: 'host-b' },
          // The id the target's worker queued it under already: BullMQ then ignores this one.
          jobId: migrateJobId(op),
        },
      ]);
  });

  it('after the hand-off the target finishes, then the source gives its capacity back', () => {
    saga
      .given([...createdOn('host-a'), requested(true), prepared])
      .when(handedOff)
      .then([
        {
          type: 'enqueue',
          hostId: 'host-b',
          vmId: VM_ID,
          operationId: op,
          step: 'finishIncoming',
          args: { live: true },
          // The id the source's worker queued it under already: BullMQ then ignores this one.
          jobId: finishJobId(op),
        },
      ]);
    saga
      .given([...createdOn('host-a'), requested(true), prepared, handedOff])
      .when({ type: 'VmMigrated', data: { operationId: op, sourceHostId: 'host-a', targetHostId: 'host-b' } })
      .then([{ type: 'release', hostId: 'host-a', vmId: VM_ID, operationId: op }]);
  });

  it('a failure before the hand-off cleans the target up and gives its reservation back', () => {
    saga
      .given([...createdOn('host-a'), requested(true), prepared])
      .when(failed)
      .then([
        { type: 'compensate', hostId: 'host-b', vmId: VM_ID, operationId: op, step: 'abortIncoming', args: {} },
        { type: 'release', hostId: 'host-b', vmId: VM_ID, operationId: op },
      ]);
  });

  it('a failure after the hand-off leaves the target alone: the VM runs there now', () => {
    saga
      .given([...createdOn('host-a'), requested(true), prepared, handedOff])
      .when({ ...failed, data: { ...failed.data, step: 'finishIncoming' } } as VmEvent)
      .thenNothing();
  });

  it('a target fenced after the hand-off: no abortIncoming on the dead host (fence recovery re-places the VM)', () => {
    saga
      .given([...createdOn('host-a'), requested(true), prepared, handedOff])
      .when({
        type: 'VmOperationFailed',
        data: {
          operationId: op,
          kind: 'migrate',
          step: 'finishIncoming',
          reason: 'the target host host-b was fenced (f1) after host-a handed the VM off',
          state: 'stopped',
          hostId: 'host-b',
        },
      })
      .thenNothing();
  });

  it('a failed operation that is not a migration, or with no migration under way, compensates nothing', () => {
    saga
      .given(createdOn('host-a'))
      .when({
        type: 'VmOperationFailed',
        data: { operationId: 'op-s', kind: 'stop', step: 'stop', reason: 'timeout', state: 'running' },
      })
      .thenNothing();
    saga.given(createdOn('host-a')).when(failed).thenNothing();
  });

  it('progress reports ask for nothing', () => {
    saga
      .given([...createdOn('host-a'), requested(true), prepared])
      .when({ type: 'VmMigrationProgressed', data: { operationId: op, percent: 40 } })
      .thenNothing();
  });
});
