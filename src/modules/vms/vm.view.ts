import { vmProject, type VmState } from '../../domain/vm/vm.state.js';
import {
  ceilingsOf,
  type RestartPolicy,
  type SnapshotRecord,
  type VmStateName,
  type VolumeSpec,
} from '../../domain/vm/vm.types.js';

/** A restart healing scheduled and has not begun. */
export interface ScheduledRestartView {
  operationId: string;
  attempt: number;
  notBefore: string;
  /** The crash (or failed restart) it answers. */
  causeEventId: string;
}

/** The v1 VM shape (fields may be added, never renamed). */
export interface VmView {
  id: string;
  name: string;
  /** The project the VM belongs to (`default` for VMs from before projects). */
  project: string;
  /** `crashed` (a stopped VM whose stop nobody asked for) until it is started again; see `crash`. */
  state: VmStateName | 'crashed';
  /** Why it reads crashed: the driver's reason and the state it was in; null otherwise. */
  crash: { reason: string; previousState: VmStateName; fence?: { hostId: string; fenceId: string } } | null;
  /** What healing does when the VM goes down unasked (`never` unless set at create or by PATCH). */
  restartPolicy: RestartPolicy;
  /** The restart healing scheduled, if one waits for its time. */
  scheduledRestart: ScheduledRestartView | null;
  hostId: string | null;
  /** The host's name beside its id (set by the HTTP views; null without a host). */
  hostName?: string | null;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  /** Ceilings vCPUs/memory can be raised to while the VM runs; = the size for a VM from before ceilings. */
  maxVcpus: number;
  maxMemoryMiB: number;
  image?: string;
  snapshots: SnapshotRecord[];
  /** Attached volumes, in attach order. */
  volumes: VolumeSpec[];
  revision: number;
  createdAt: string;
  updatedAt: string;
  pendingOperation: { id: string; kind: string; step: string } | null;
  migration?: { sourceHostId: string; targetHostId: string; live: boolean } | null;
  /** The placement group the VM joined at create; null when none. */
  placementGroupId: string | null;
  /** Host labels its hosts must carry, when the create gave some. */
  hostSelector?: Record<string, string>;
  /** spread or pack, when the create or the deployment chose one. */
  placement?: 'spread' | 'pack';
  /** Each NIC's network and the MAC and IP allocated to it (kept across migrations). */
  nics: VmNicView[];
}

export interface VmNicView {
  networkId: string;
  mac: string;
  ip: string;
}

export function toVmView(state: VmState, revision: bigint | string, createdAt: string, updatedAt: string): VmView {
  const spec = state.spec;
  return {
    id: state.id ?? '',
    name: spec?.name ?? '',
    project: vmProject(state),
    state: state.crash && state.state === 'stopped' ? 'crashed' : state.state,
    crash:
      state.crash && state.state === 'stopped'
        ? {
            reason: state.crash.reason,
            previousState: state.crash.previousState,
            ...(state.crash.fence ? { fence: state.crash.fence } : {}),
          }
        : null,
    restartPolicy: state.restartPolicy ?? 'never',
    scheduledRestart: state.healing?.scheduled
      ? {
          operationId: state.healing.scheduled.operationId,
          attempt: state.healing.scheduled.attempt,
          notBefore: state.healing.scheduled.notBefore,
          causeEventId: state.healing.scheduled.causeEventId,
        }
      : null,
    hostId: state.hostId,
    vcpus: spec?.vcpus ?? 0,
    memoryMiB: spec?.memoryMiB ?? 0,
    diskGiB: spec?.diskGiB ?? 0,
    ...(spec ? ceilingsOf(spec) : { maxVcpus: 0, maxMemoryMiB: 0 }),
    ...(spec?.image ? { image: spec.image } : {}),
    placementGroupId: spec?.placementGroupId ?? null,
    ...(spec?.hostSelector ? { hostSelector: spec.hostSelector } : {}),
    ...(spec?.placement ? { placement: spec.placement } : {}),
    snapshots: state.snapshots,
    volumes: (spec?.volumes ?? []).map(({ volumeId, name, sizeGiB }) => ({ volumeId, name, sizeGiB })),
    revision: Number(revision),
    createdAt,
    updatedAt,
    pendingOperation: state.pending
      ? { id: state.pending.id, kind: state.pending.kind, step: state.pending.awaiting }
      : null,
    nics: (spec?.nics ?? []).map(({ networkId, mac, ip }) => ({ networkId, mac, ip })),
    migration: state.migration
      ? {
          sourceHostId: state.migration.sourceHostId,
          targetHostId: state.migration.targetHostId,
          live: state.migration.live,
        }
      : null,
  };
}
