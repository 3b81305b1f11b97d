import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from './saga.actions.js';

export function snapshotSaga(event: VmEvent, _before: VmState, after: VmState): SagaAction[] {
  const hostId = after.hostId;
  const vmId = after.id;
  // No job without a host to run it and a VM to name: such an event asks nothing of a worker.
  if (!hostId || !vmId) return [];
  switch (event.type) {
    case 'VmSnapshotRequested':
      return [
        {
          type: 'enqueue',
          hostId,
          vmId,
          operationId: event.data.operationId,
          step: 'snapshot',
          args: { name: event.data.name, memory: event.data.memory },
        },
      ];
    case 'VmSnapshotRevertRequested':
      return [
        {
          type: 'enqueue',
          hostId,
          vmId,
          operationId: event.data.operationId,
          step: 'revert',
          args: { name: event.data.name },
        },
      ];
    case 'VmSnapshotDeleteRequested':
      return [
        {
          type: 'enqueue',
          hostId,
          vmId,
          operationId: event.data.operationId,
          step: 'deleteSnapshot',
          args: { name: event.data.name },
        },
      ];
    default:
      return [];
  }
}
