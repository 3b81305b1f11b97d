import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from './saga.actions.js';

/**
 * Live resize: the request puts one resizeLive job on the VM's host. The API reserved the larger
 * of the old and the new size per dimension on the host; once the operation closes, the
 * reservation is set to the size the VM really has: the new one after VmResized, the old one
 * after a failure (both only shrink the reservation, so they always fit).
 */
export function resizeSaga(event: VmEvent, before: VmState, after: VmState): SagaAction[] {
  const hostId = after.hostId;
  const vmId = after.id;
  if (!hostId || !vmId) return [];
  switch (event.type) {
    case 'VmResizeStarted':
      return [
        {
          type: 'enqueue',
          hostId,
          vmId,
          operationId: event.data.operationId,
          step: 'resizeLive',
          args: { to: { ...event.data.to } },
        },
      ];
    case 'VmResized':
      if (!event.data.live) return [];
      return [settle(hostId, vmId, event.data.operationId, after)];
    case 'VmOperationFailed':
      if (event.data.kind !== 'resize' || before.pending?.id !== event.data.operationId) return [];
      return [settle(hostId, vmId, event.data.operationId, after)];
    default:
      return [];
  }
}

function settle(hostId: string, vmId: string, operationId: string, after: VmState): SagaAction {
  return {
    type: 'resizeReservation',
    hostId,
    vmId,
    operationId,
    vcpus: after.spec?.vcpus ?? 0,
    memoryMiB: after.spec?.memoryMiB ?? 0,
  };
}
