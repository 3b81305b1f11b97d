import type { VmEvent } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from './saga.actions.js';

/**
 * attach / detach: one job on the VM's host each. The volume's claim (on its own stream)
 * ends when the VM lets it go: a detach done, an attach (or a create that named it) failed,
 * the VM deleted.
 */
export function vmVolumesSaga(event: VmEvent, before: VmState, after: VmState): SagaAction[] {
  const vmId = after.id;
  if (!vmId) return [];
  const release = (volumeId: string, operationId: string, reason: string): SagaAction => ({
    type: 'releaseVolume',
    volumeId,
    vmId,
    operationId,
    reason,
  });
  const hostId = after.hostId;
  switch (event.type) {
    case 'VmVolumeAttachRequested':
      return hostId
        ? [
            {
              type: 'enqueue',
              hostId,
              vmId,
              operationId: event.data.operationId,
              step: 'attachVolume',
              args: { volume: event.data.volume, live: event.data.live },
            },
          ]
        : [];
    case 'VmVolumeDetachRequested': {
      const volume = after.pending?.volume;
      return hostId && volume
        ? [
            {
              type: 'enqueue',
              hostId,
              vmId,
              operationId: event.data.operationId,
              step: 'detachVolume',
              args: { volume, live: event.data.live },
            },
          ]
        : [];
    }
    case 'VmVolumeDetached':
      return [release(event.data.volumeId, event.data.operationId, `detached from VM ${vmId}`)];
    case 'VmOperationFailed': {
      const p = before.pending;
      if (event.data.kind === 'attachVolume' && p?.volume) {
        return [release(p.volume.volumeId, event.data.operationId, `attach failed: ${event.data.reason}`)];
      }
      if (event.data.kind === 'create') {
        return (before.spec?.volumes ?? []).map((v) =>
          release(v.volumeId, event.data.operationId, `the create of VM ${vmId} failed`),
        );
      }
      return [];
    }
    case 'VmMigrated':
      return (after.spec?.volumes ?? []).map((v) => ({
        type: 'moveVolume' as const,
        volumeId: v.volumeId,
        vmId,
        operationId: event.data.operationId,
        hostId: event.data.targetHostId,
      }));
    case 'VmDeleted':
      return (before.spec?.volumes ?? []).map((v) =>
        release(v.volumeId, event.data.operationId, `VM ${vmId} was deleted`),
      );
    default:
      return [];
  }
}
