import { vmProject, type VmState } from '../../domain/vm/vm.state.js';
import type { SnapshotRecord, VmStateName, VolumeSpec } from '../../domain/vm/vm.types.js';

/** The v1 VM shape (fields may be added, never renamed). */
export interface VmView {
  id: string;
  name: string;
  /** The project the VM belongs to (`default` for VMs from before projects). */
  project: string;
  /** `crashed` (a stopped VM whose stop nobody asked for) until it is started again; see `crash`. */
  state: VmStateName | 'crashed';
  /** Why it reads crashed: the driver's reason and the state it was in; null otherwise. */
  crash: { reason: string; previousState: VmStateName } | null;
  hostId: string | null;
  /** The host's name beside its id (set by the HTTP views; null without a host). */
  hostName?: string | null;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  image?: string;
  snapshots: SnapshotRecord[];
  /** Attached volumes, in attach order. */
  volumes: VolumeSpec[];
  revision: number;
  createdAt: string;
  updatedAt: string;
  pendingOperation: { id: string; kind: string; step: string } | null;
  migration?: { sourceHostId: string; targetHostId: string; live: boolean } | null;
}

export function toVmView(state: VmState, revision: bigint | string, createdAt: string, updatedAt: string): VmView {
  const spec = state.spec;
  return {
    id: state.id ?? '',
    name: spec?.name ?? '',
    project: vmProject(state),
    state: state.crash && state.state === 'stopped' ? 'crashed' : state.state,
    crash: state.crash && state.state === 'stopped' ? state.crash : null,
    hostId: state.hostId,
    vcpus: spec?.vcpus ?? 0,
    memoryMiB: spec?.memoryMiB ?? 0,
    diskGiB: spec?.diskGiB ?? 0,
    ...(spec?.image ? { image: spec.image } : {}),
    snapshots: state.snapshots,
    volumes: (spec?.volumes ?? []).map(({ volumeId, name, sizeGiB }) => ({ volumeId, name, sizeGiB })),
    revision: Number(revision),
    createdAt,
    updatedAt,
    pendingOperation: state.pending
      ? { id: state.pending.id, kind: state.pending.kind, step: state.pending.awaiting }
      : null,
    migration: state.migration
      ? {
          sourceHostId: state.migration.sourceHostId,
          targetHostId: state.migration.targetHostId,
          live: state.migration.live,
        }
      : null,
  };
}
