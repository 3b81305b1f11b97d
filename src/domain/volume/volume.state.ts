import type { VolumeEvent, VolumeOperationKind } from './volume.events.js';

export type VolumeStatus = 'creating' | 'available' | 'resizing' | 'deleting' | 'deleted' | 'failed';

export interface VolumePending {
  id: string;
  kind: VolumeOperationKind;
  /** resize: the size asked for. */
  sizeGiB?: number;
}

export interface VolumeState {
  exists: boolean;
  id: string | null;
  name: string;
  project: string;
  sizeGiB: number;
  hostId: string | null;
  status: VolumeStatus;
  /** The VM holding it (from the attach request until the detach), else null. */
  attachedTo: string | null;
  pending: VolumePending | null;
}

export function initialVolumeState(): VolumeState {
  return {
    exists: false,
    id: null,
    name: '',
    project: '',
    sizeGiB: 0,
    hostId: null,
    status: 'creating',
    attachedTo: null,
    pending: null,
  };
}

export function evolveVolume(state: VolumeState, event: VolumeEvent): VolumeState {
  switch (event.type) {
    case 'VolumeCreateRequested': {
      const d = event.data;
      return {
        ...state,
        exists: true,
        id: d.volumeId,
        name: d.name,
        project: d.project,
        sizeGiB: d.sizeGiB,
        hostId: d.hostId,
        status: 'creating',
        pending: { id: d.operationId, kind: 'createVolume' },
      };
    }
    case 'VolumeCreated':
      return { ...state, status: 'available', pending: null };
    case 'VolumeResizeRequested':
      return {
        ...state,
        status: 'resizing',
        pending: { id: event.data.operationId, kind: 'resizeVolume', sizeGiB: event.data.sizeGiB },
      };
    case 'VolumeResized':
      return { ...state, status: 'available', sizeGiB: event.data.sizeGiB, pending: null };
    case 'VolumeDeleteRequested':
      return { ...state, status: 'deleting', pending: { id: event.data.operationId, kind: 'deleteVolume' } };
    case 'VolumeDeleted':
      return { ...state, status: 'deleted', pending: null };
    case 'VolumeOperationFailed':
      return {
        ...state,
        status: event.data.kind === 'createVolume' ? 'failed' : 'available',
        pending: null,
      };
    case 'VolumeMoved':
      return { ...state, hostId: event.data.toHostId };
    case 'VolumeAttached':
      return { ...state, attachedTo: event.data.vmId };
    case 'VolumeDetached':
      return state.attachedTo === event.data.vmId ? { ...state, attachedTo: null } : state;
  }
}
