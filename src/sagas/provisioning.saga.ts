import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from './saga.actions.js';

/** A create that should run is defined and started by one job: one hop less through log and queue. */
const defineArgs = (vm: VmState): { thenStart?: boolean } => (vm.startAfterCreate ? { thenStart: true } : {});

/** The id of a create's define job: queued by the placement, and again (a no-op) on VmPlaced. */
export const defineJobId = (operationId: string): string => `${operationId}.define`;

/** create: reserve (placement) → define → start; delete: destroy → release. */
export function provisioningSaga(event: VmEvent, before: VmState, after: VmState): SagaAction[] {
  const vmId = after.id;
  // Every VM event follows VmCreateRequested, which names the VM; without it there is nothing to act on.
  if (!vmId) return [];
  switch (event.type) {
    case 'VmCreateRequested':
      return [
        {
          type: 'place',
          vmId,
          operationId: event.data.operationId,
          requestedHostId: event.data.requestedHostId,
          vcpus: event.data.spec.vcpus,
          memoryMiB: event.data.spec.memoryMiB,
          ...(event.data.spec.hostSelector ? { hostSelector: event.data.spec.hostSelector } : {}),
          ...(event.data.spec.placement ? { strategy: event.data.spec.placement } : {}),
          ...(event.data.spec.placementGroupId ? { placementGroupId: event.data.spec.placementGroupId } : {}),
          diskGiB: event.data.spec.diskGiB,
          // The define job goes out as soon as the VM is placed (see below).
          define: { args: defineArgs(after), jobId: defineJobId(event.data.operationId) },
        },
      ];
    case 'VmPlaced':
      return [
        {
          type: 'enqueue',
          hostId: event.data.hostId,
          vmId,
          operationId: event.data.operationId,
          step: 'define',
          args: defineArgs(after),
          // The placement queued it already under this id: not run twice.
          jobId: defineJobId(event.data.operationId),
        },
      ];
    case 'VmDefined':
      // startFollows: the define job is starting it already (its worker said so in the result).
      return after.pending?.awaiting === 'start' && !event.data.startFollows
        ? [
            {
              type: 'enqueue',
              hostId: event.data.hostId,
              vmId,
              operationId: event.data.operationId,
              step: 'start',
              args: {},
            },
          ]
        : [];
    case 'VmDeleteRequested':
      return before.hostId
        ? [
            {
              type: 'enqueue',
              hostId: before.hostId,
              vmId,
              operationId: event.data.operationId,
              step: 'destroy',
              args: {},
            },
          ]
        : [];
    case 'VmDeleted':
      return before.hostId
        ? [{ type: 'release', hostId: before.hostId, vmId, operationId: event.data.operationId }]
        : [];
    case 'VmOperationFailed': {
      // A create that failed after placement gives its reservation back; the VM stays (failed) until deleted.
      if (event.data.kind !== 'create' || !before.hostId) return [];
      const release: SagaAction = { type: 'release', hostId: before.hostId, vmId, operationId: event.data.operationId };
      if (!event.data.cancelled) return [release];
      // Cancelled: nobody asked for what the host made (the domain, the disk) any more; remove it.
      // The driver's per-VM lock makes the destroy wait for the aborted call, whatever it left.
      return [
        {
          type: 'compensate',
          hostId: before.hostId,
          vmId,
          operationId: event.data.operationId,
          step: 'destroy',
          args: {},
        },
        release,
      ];
    }
    default:
      return [];
  }
}
