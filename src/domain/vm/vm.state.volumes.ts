import type {
  VmEvent,
  VmVolumeAttachRequested,
  VmVolumeAttached,
  VmVolumeDetachRequested,
  VmVolumeDetached,
} from './vm.events.js';
import type { PendingOperation, VmState } from './vm.state.js';
import type { OperationKind } from './vm.types.js';

export type VmVolumeEvent = VmVolumeAttachRequested | VmVolumeAttached | VmVolumeDetachRequested | VmVolumeDetached;

export function isVmVolumeEvent(event: VmEvent): event is VmVolumeEvent {
  return (
    event.type === 'VmVolumeAttachRequested' ||
    event.type === 'VmVolumeAttached' ||
    event.type === 'VmVolumeDetachRequested' ||
    event.type === 'VmVolumeDetached'
  );
}

type Open = (
  state: VmState,
  id: string,
  kind: OperationKind,
  awaiting: PendingOperation['awaiting'],
  extra?: Partial<PendingOperation>,
) => PendingOperation;

/** Attach and detach: the VM keeps its state; its spec gains or loses the volume when the host did it. */
export function evolveVmVolumes(state: VmState, event: VmVolumeEvent, open: Open): VmState {
  switch (event.type) {
    case 'VmVolumeAttachRequested':
      return {
        ...state,
        pending: open(state, event.data.operationId, 'attachVolume', 'attachVolume', {
          volume: event.data.volume,
          live: event.data.live,
        }),
      };
    case 'VmVolumeAttached': {
      if (!state.spec) return { ...state, pending: null };
      const others = (state.spec.volumes ?? []).filter((v) => v.volumeId !== event.data.volume.volumeId);
      return { ...state, spec: { ...state.spec, volumes: [...others, event.data.volume] }, pending: null };
    }
    case 'VmVolumeDetachRequested': {
      const volume = state.spec?.volumes?.find((v) => v.volumeId === event.data.volumeId) ?? {
        volumeId: event.data.volumeId,
        name: '',
        sizeGiB: 0,
      };
      return {
        ...state,
        pending: open(state, event.data.operationId, 'detachVolume', 'detachVolume', {
          volume,
          live: event.data.live,
        }),
      };
    }
    case 'VmVolumeDetached': {
      if (!state.spec) return { ...state, pending: null };
      const volumes = (state.spec.volumes ?? []).filter((v) => v.volumeId !== event.data.volumeId);
      return { ...state, spec: { ...state.spec, volumes }, pending: null };
    }
  }
}
