import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from './saga.actions.js';

/**
 * reserve target → prepare target → send from source → finish on target →
 * release source. On failure before the hand-off: clean the target up and
 * give its reservation back, so the VM runs on exactly one host (the source).
 */
export function migrationSaga(event: VmEvent, before: VmState, after: VmState): SagaAction[] {
  const vmId = after.id;
  // Every VM event follows VmCreateRequested, which names the VM; without it there is nothing to act on.
  if (!vmId) return [];
  switch (event.type) {
    case 'VmMigrationRequested': {
      const { operationId, targetHostId, sourceHostId, live } = event.data;
      const spec = after.spec;
      // A VM without a spec was never created: nothing to reserve room for or to move.
      if (!spec) return [];
      return [
        {
          type: 'reserve',
          hostId: targetHostId,
          vmId,
          operationId,
          vcpus: spec.vcpus,
          memoryMiB: spec.memoryMiB,
          // The disk travels too; an attached volume's file must already be on the target (shared storage).
          diskGiB: spec.diskGiB,
          failStep: 'prepareIncoming',
        },
        // The target's worker queues the source's migrate itself once it listens (see below).
        {
          type: 'enqueue',
          hostId: targetHostId,
          vmId,
          operationId,
          step: 'prepareIncoming',
          args: { live, sourceHostId },
        },
      ];
    }
    case 'VmMigrationTargetPrepared': {
      const m = after.migration;
      if (!m) return [];
      return [
        {
          type: 'enqueue',
          hostId: m.sourceHostId,
          vmId,
          operationId: event.data.operationId,
          step: 'migrate',
          args: { live: m.live, endpoint: event.data.endpoint, targetHostId: m.targetHostId },
          // The target's worker queued it already under this id (application/jobs migrateJobId):
          // not run twice.
          jobId: `${event.data.operationId}.migrate`,
        },
      ];
    }
    case 'VmMigrationHandedOff': {
      const m = after.migration;
      if (!m) return [];
      return [
        {
          type: 'enqueue',
          hostId: m.targetHostId,
          vmId,
          operationId: event.data.operationId,
          step: 'finishIncoming',
          args: { live: m.live },
          // The source's worker queued it already under this id (application/jobs finishJobId; sagas
          // import only types from there, the spec checks the two agree): not run twice.
          jobId: `${event.data.operationId}.finishIncoming`,
        },
      ];
    }
    case 'VmMigrated':
      return [{ type: 'release', hostId: event.data.sourceHostId, vmId, operationId: event.data.operationId }];
    case 'VmOperationFailed': {
      const m = before.migration;
      if (event.data.kind !== 'migrate' || !m || m.handedOff) return [];
      return [
        {
          type: 'compensate',
          hostId: m.targetHostId,
          vmId,
          operationId: event.data.operationId,
          step: 'abortIncoming',
          args: {},
        },
        { type: 'release', hostId: m.targetHostId, vmId, operationId: event.data.operationId },
      ];
    }
    default:
      return [];
  }
}
