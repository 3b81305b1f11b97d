import type {
  VmEvent,
  VmVolumeAttachRequested,
  VmVolumeAttached,
  VmVolumeDetachRequested,
  VmVolumeDetached,
  VmVolumeResized,
} from './vm.events.js';
import type { JobStep, OperationKind, VmSpecData, VolumeSpec } from './vm.types.js';

export type VmVolumeEvent =
  VmVolumeAttachRequested | VmVolumeAttached | VmVolumeDetachRequested | VmVolumeDetached | VmVolumeResized;

export function isVmVolumeEvent(event: VmEvent): event is VmVolumeEvent {
  return (
    event.type === 'VmVolumeAttachRequested' ||
    event.type === 'VmVolumeAttached' ||
    event.type === 'VmVolumeDetachRequested' ||
    event.type === 'VmVolumeDetached' ||
    event.type === 'VmVolumeResized'
  );
}

/** What of the VM's pending operation and state this needs (typed structurally: vm.state.ts imports this file). */
interface Pending {
  volume?: VolumeSpec;
  live?: boolean;
}
interface State<P extends Pending> {
  spec: VmSpecData | null;
  pending: P | null;
}
type Open<S, P> = (state: S, id: string, kind: OperationKind, awaiting: JobStep, extra?: Pending) => P;

/** Attach and detach: the VM keeps its state; its spec gains or loses the volume when the host did it. */
export function evolveVmVolumes<P extends Pending, S extends State<P>>(
  state: S,
  event: VmVolumeEvent,
  open: Open<S, P>,
): S {
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
    case 'VmVolumeResized': {
      if (!state.spec?.volumes) return state;
      const { volumeId, sizeGiB } = event.data;
      const volumes = state.spec.volumes.map((v) => (v.volumeId === volumeId ? { ...v, sizeGiB } : v));
      return { ...state, spec: { ...state.spec, volumes } };
    }
    case 'VmVolumeDetached': {
      if (!state.spec) return { ...state, pending: null };
      const volumes = (state.spec.volumes ?? []).filter((v) => v.volumeId !== event.data.volumeId);
      return { ...state, spec: { ...state.spec, volumes }, pending: null };
    }
  }
}
