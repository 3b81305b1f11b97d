import type { HostState } from '../domain/host/host.state.js';
import type { ImageState } from '../domain/image/image.state.js';
import type { NetworkState } from '../domain/network/network.state.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { VolumeState } from '../domain/volume/volume.state.js';
import type { VolumeOperationKind } from '../domain/volume/volume.events.js';
import type { OperationKind } from '../domain/vm/vm.types.js';

export interface VmRecord {
  state: VmState;
  revision: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * A host as the `hosts` read model keeps it. Its allocations are not in the record (a busy host's
 * were tens of KiB rewritten per page): each VM's is its own key (`hostAllocation`), and the
 * record keeps their count (`vms`) and, in `state.used`, their sum.
 */
export interface HostRecord {
  state: HostState & { allocations: Record<string, never> };
  revision: string;
  createdAt: string;
  updatedAt: string;
  /** VMs holding capacity on the host. Absent on a record written before allocations had their own keys. */
  vms?: number;
}

export interface VolumeRecord {
  state: VolumeState;
  revision: string;
  createdAt: string;
  updatedAt: string;
}

export interface ImageRecord {
  state: ImageState;
  revision: string;
  createdAt: string;
  updatedAt: string;
}

export interface NetworkRecord {
  state: NetworkState;
  revision: string;
  createdAt: string;
  updatedAt: string;
}

export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** The statuses an operation ends in: none of them ever changes again. */
export const ENDED_STATUSES: ReadonlySet<string> = new Set<OperationStatus>(['succeeded', 'failed', 'cancelled']);

/** `rebuild`: a read model rebuilt from the log (`POST /v1/projections/{name}/rebuild`); it has no VM. */
/** `resize`: a cold resize, done when recorded. `evacuate`: a host's parent operation over one migration per VM. */
/** createVolume / resizeVolume / deleteVolume: a volume's own operations (no VM; `volumeId` names it). */
export type AnyOperationKind = OperationKind | 'rebuild' | 'resize' | 'evacuate' | VolumeOperationKind;

/** What an evacuation moved and what it could not, with why. */
export interface EvacuationResult {
  moved: { vmId: string; targetHostId: string; operationId: string }[];
  notMoved: { vmId: string; reason: string; operationId?: string }[];
}

export interface OperationView {
  id: string;
  kind: AnyOperationKind;
  vmId: string | null;
  /** The VM's project (absent for rebuilds, and in read models built before projects: read the VM's). */
  project?: string;
  /** The read model a `rebuild` operation rebuilds. */
  projection?: string;
  /** The volume a volume operation (or a VM's attach/detach) acts on. */
  volumeId?: string;
  /** The host an `evacuate` operation empties. */
  hostId?: string;
  /** A migration started by an evacuation names it. */
  parentOperationId?: string;
  /** evacuate: its child operations (one migration per VM). */
  children?: string[];
  /** evacuate: filled as children finish. */
  result?: EvacuationResult;
  status: OperationStatus;
  error: string | null;
  /** status cancelled: who cancelled it and why, or the forced stop that superseded it. */
  cancelled?: { by: string; reason?: string; supersededBy?: string };
  /**
   * migrate: a cancel was asked and QEMU decides. It ends `cancelled` when it came in time, or
   * `succeeded` when the migration had already completed (the cancel came too late).
   */
  cancelRequested?: { by: string; reason?: string };
  principal: string;
  createdAt: string;
  updatedAt: string;
  reason?: string;
  progress?: {
    step?: string;
    percent?: number;
    transferredBytes?: number;
    remainingBytes?: number;
    totalBytes?: number;
    /** rebuild: events replayed so far / events to replay. */
    done?: number;
    total?: number;
  };
}

/** A project as created or last changed; usage is computed on read from the VMs. */
export interface ProjectRecord {
  name: string;
  quotas: Partial<Record<'vms' | 'vcpus' | 'memoryMiB' | 'diskGiB', number>>;
  createdAt: string;
  updatedAt: string;
}
