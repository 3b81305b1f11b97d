import type { VolumeEvent } from '../domain/volume/volume.events.js';
import type { VolumeState } from '../domain/volume/volume.state.js';
import type { SagaAction } from './saga.actions.js';

/** A volume's own operations: one job each on the volume's host; a deleted volume's disk goes back to the host. */
export function volumeSaga(event: VolumeEvent, before: VolumeState, after: VolumeState): SagaAction[] {
  const volumeId = after.id;
  const hostId = after.hostId;
  if (!volumeId || !hostId) return [];
  const volume = { volumeId, name: after.name, sizeGiB: after.sizeGiB };
  switch (event.type) {
    case 'VolumeCreateRequested':
      return [
        {
          type: 'enqueueVolume',
          hostId,
          volumeId,
          operationId: event.data.operationId,
          step: 'createVolume',
          args: { volume },
        },
      ];
    case 'VolumeResizeRequested':
      return [
        {
          type: 'enqueueVolume',
          hostId,
          volumeId,
          operationId: event.data.operationId,
          step: 'resizeVolume',
          args: {
            volume: { ...volume, sizeGiB: event.data.sizeGiB },
            ...(event.data.vmId ? { vmId: event.data.vmId } : {}),
          },
        },
      ];
    case 'VolumeDeleteRequested':
      return [
        {
          type: 'enqueueVolume',
          hostId,
          volumeId,
          operationId: event.data.operationId,
          step: 'deleteVolume',
          args: { volume },
        },
      ];
    case 'VolumeMoved':
      // The disk is counted where the file now is.
      return [
        {
          type: 'reserveVolumeDisk',
          hostId: event.data.toHostId,
          volumeId,
          operationId: event.data.operationId,
          sizeGiB: after.sizeGiB,
        },
        { type: 'releaseVolumeDisk', hostId: event.data.fromHostId, volumeId, operationId: event.data.operationId },
      ];
    case 'VolumeResized':
      // The VM holding it shows the new size too.
      return after.attachedTo
        ? [
            {
              type: 'noteVmVolumeSize',
              vmId: after.attachedTo,
              volumeId,
              sizeGiB: event.data.sizeGiB,
              operationId: event.data.operationId,
            },
          ]
        : [];
    case 'VolumeDeleted':
      return before.status !== 'deleted'
        ? [{ type: 'releaseVolumeDisk', hostId, volumeId, operationId: event.data.operationId }]
        : [];
    default:
      return [];
  }
}
