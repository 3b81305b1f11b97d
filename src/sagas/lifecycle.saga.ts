import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from './saga.actions.js';

/** start / stop / reboot / pause / resume: one job on the VM's host each. */
export function lifecycleSaga(event: VmEvent, _before: VmState, after: VmState): SagaAction[] {
  const hostId = after.hostId;
  const vmId = after.id;
  // No job without a host to run it and a VM to name: such an event asks nothing of a worker.
  if (!hostId || !vmId) return [];
  switch (event.type) {
    case 'VmStartRequested':
      return [{ type: 'enqueue', hostId, vmId, operationId: event.data.operationId, step: 'start', args: {} }];
    case 'VmStopRequested':
      return [
        {
          type: 'enqueue',
          hostId,
          vmId,
          operationId: event.data.operationId,
          step: 'stop',
          args: { force: event.data.force, ...(event.data.timeoutMs ? { timeoutMs: event.data.timeoutMs } : {}) },
        },
      ];
    case 'VmRebootRequested':
      return [{ type: 'enqueue', hostId, vmId, operationId: event.data.operationId, step: 'reboot', args: {} }];
    case 'VmPauseRequested':
      return [{ type: 'enqueue', hostId, vmId, operationId: event.data.operationId, step: 'pause', args: {} }];
    case 'VmResumeRequested':
      return [{ type: 'enqueue', hostId, vmId, operationId: event.data.operationId, step: 'resume', args: {} }];
    default:
      return [];
  }
}
