import { DEFAULT_PROJECT } from '../project/project.types.js';
import type { OperationCancellation, VmEvent } from './vm.events.js';
import type { ObservedState } from './evidence.js';
import { evolveHealing, NO_HEALING, type HealingState } from './vm.healing-state.js';
import type {
  JobStep,
  OperationKind,
  RestartPolicy,
  SnapshotRecord,
  VmSize,
  VmSpecData,
  VmStateName,
  VolumeSpec,
} from './vm.types.js';
import { evolveVmVolumes, isVmVolumeEvent } from './vm.state.volumes.js';

export interface PendingOperation {
  id: string;
  kind: OperationKind;
  /** The step whose result the VM waits for; 'placement' before a host is chosen. */
  awaiting: JobStep | 'placement';
  running: boolean;
  /** The state to return to when the operation fails without harm. */
  stateBefore: VmStateName;
  force?: boolean;
  timeoutMs?: number;
  snapshotName?: string;
  memory?: boolean;
  /** attachVolume: the volume; detachVolume: its id (in volume.volumeId). */
  volume?: VolumeSpec;
  /** attach/detach on a running VM (hot-plug); a live resize. */
  live?: boolean;
  /** resize: the size the worker is applying (the spec keeps the old one until VmResized). */
  resizeTo?: VmSize;
  /** migrate: a cancel was asked; the step in flight decides whether it came in time. */
  cancelRequested?: OperationCancellation;
}

export interface MigrationInProgress {
  sourceHostId: string;
  targetHostId: string;
  live: boolean;
  endpoint: Record<string, string | number | boolean> | null;
  handedOff: boolean;
}

export interface VmState {
  exists: boolean;
  id: string | null;
  /**
   * The project the VM belongs to, for good: it decides who may see or touch the VM.
   * Absent for VMs created before projects (and in states cached from then): read it with vmProject().
   */
  project?: string;
  spec: VmSpecData | null;
  state: VmStateName;
  hostId: string | null;
  /** Create's "start": false leaves the VM stopped. */
  startAfterCreate: boolean;
  snapshots: SnapshotRecord[];
  pending: PendingOperation | null;
  migration: MigrationInProgress | null;
  /**
   * Set by VmCrashed while the VM stays down (it reads `crashed`); cleared when it runs again
   * or is deleted. Optional: states cached before it existed have none.
   */
  crash?: VmCrash | null;
  /** Absent on VMs created before healing (and states cached from then): `never`. */
  restartPolicy?: RestartPolicy;
  /** Restarts scheduled by healing; absent = none yet. */
  healing?: HealingState;
  /** Fences this VM was recovered after (a VM is recovered at most once per fence). */
  recoveredFences?: string[];
  /** MiB added live (DIMMs) since the VM's process last started; a stop or a crash ends them. Absent: none. */
  liveMemoryGrownMiB?: number;
}

export interface VmCrash {
  reason: string;
  previousState: VmStateName;
  /** How the driver saw it go down (healing's `on-crash` answers crashed/absent only); absent = crashed. */
  observed?: ObservedState;
  /** Down with its fenced host. */
  fence?: { hostId: string; fenceId: string };
}

/** The VM's project: `default` for one created before projects. */
export function vmProject(state: Pick<VmState, 'project'>): string {
  return state.project ?? DEFAULT_PROJECT;
}

export function initialVmState(): VmState {
  return {
    exists: false,
    id: null,
    spec: null,
    state: 'requested',
    hostId: null,
    startAfterCreate: true,
    snapshots: [],
    pending: null,
    migration: null,
  };
}

export function open(
  state: VmState,
  id: string,
  kind: OperationKind,
  awaiting: PendingOperation['awaiting'],
  extra: Partial<PendingOperation> = {},
): PendingOperation {
  return { id, kind, awaiting, running: false, stateBefore: state.state, ...extra };
}

function advance(state: VmState, awaiting: PendingOperation['awaiting']): PendingOperation | null {
  return state.pending ? { ...state.pending, awaiting } : null;
}

export function evolveVm(state: VmState, event: VmEvent): VmState {
  const core = evolveVmCore(state, event);
  const healing = evolveHealing(state.healing ?? NO_HEALING, event);
  const next = healing === (state.healing ?? NO_HEALING) ? core : { ...core, healing };
  if (event.type === 'VmCrashed') {
    const d = event.data;
    const crash: VmCrash = {
      reason: d.reason,
      previousState: d.previousState,
      ...(d.evidence ? { observed: d.evidence.observed } : {}),
      ...(d.fence ? { fence: d.fence } : {}),
    };
    return { ...next, crash };
  }
  if (event.type === 'VmOperationFailed' && event.data.kind === 'recover' && !event.data.cancelled) {
    // A recovery that failed leaves the VM down on its new host: crashed, so healing may try again there.
    return { ...next, crash: { reason: event.data.reason, previousState: 'running', observed: 'crashed' } };
  }
  // A stop someone asked for acknowledges a crash; otherwise it shows until the VM leaves the stopped state.
  if (next.crash && (next.state !== 'stopped' || event.type === 'VmStopped')) return { ...next, crash: null };
  return next;
}

function evolveVmCore(state: VmState, event: VmEvent): VmState {
  if (isVmVolumeEvent(event)) return evolveVmVolumes(state, event, open);
  switch (event.type) {
    case 'VmCreateRequested': {
      const d = event.data;
      return {
        ...state,
        exists: true,
        id: d.vmId,
        ...(d.project !== undefined ? { project: d.project } : {}),
        spec: d.spec,
        state: 'requested',
        startAfterCreate: d.start,
        pending: open(state, d.operationId, 'create', 'placement', { stateBefore: 'requested' }),
        ...(d.restartPolicy ? { restartPolicy: d.restartPolicy } : {}),
      };
    }
    case 'VmPlaced':
      return { ...state, hostId: event.data.hostId, state: 'provisioning', pending: advance(state, 'define') };
    case 'VmDefined':
      return {
        ...state,
        state: 'stopped',
        // A recovery always starts the VM on its new host; a create only when asked to.
        pending: state.startAfterCreate || state.pending?.kind === 'recover' ? advance(state, 'start') : null,
      };
    case 'VmStartRequested':
      return {
        ...state,
        pending: open(state, event.data.operationId, event.data.restart ? 'restart' : 'start', 'start'),
      };
    case 'VmStarted':
      return { ...state, state: 'running', pending: null };
    case 'VmStopRequested':
      return {
        ...state,
        pending: open(state, event.data.operationId, 'stop', 'stop', {
          force: event.data.force,
          timeoutMs: event.data.timeoutMs,
        }),
      };
    case 'VmStopped':
      return { ...processEnded(state), state: 'stopped', pending: null };
    case 'VmRebootRequested':
      return { ...state, pending: open(state, event.data.operationId, 'reboot', 'reboot') };
    case 'VmRebooted':
      return { ...state, state: 'running', pending: null };
    case 'VmPauseRequested':
      return { ...state, pending: open(state, event.data.operationId, 'pause', 'pause') };
    case 'VmPaused':
      return { ...state, state: 'paused', pending: null };
    case 'VmResumeRequested':
      return { ...state, pending: open(state, event.data.operationId, 'resume', 'resume') };
    case 'VmResumed':
      return { ...state, state: 'running', pending: null };
    case 'VmSnapshotRequested':
      return {
        ...state,
        pending: open(state, event.data.operationId, 'snapshot', 'snapshot', {
          snapshotName: event.data.name,
          memory: event.data.memory,
        }),
      };
    case 'VmSnapshotTaken': {
      const { name, memory, createdAt } = event.data;
      return {
        ...state,
        snapshots: [...state.snapshots.filter((s) => s.name !== name), { name, memory, createdAt }],
        pending: null,
      };
    }
    case 'VmSnapshotRevertRequested':
      return {
        ...state,
        pending: open(state, event.data.operationId, 'revert', 'revert', { snapshotName: event.data.name }),
      };
    case 'VmSnapshotReverted':
      return { ...state, state: event.data.state, pending: null };
    case 'VmSnapshotDeleteRequested':
      return {
        ...state,
        pending: open(state, event.data.operationId, 'deleteSnapshot', 'deleteSnapshot', {
          snapshotName: event.data.name,
        }),
      };
    case 'VmSnapshotDeleted':
      return { ...state, snapshots: state.snapshots.filter((s) => s.name !== event.data.name), pending: null };
    case 'VmMigrationRequested': {
      const d = event.data;
      return {
        ...state,
        state: 'migrating',
        pending: open(state, d.operationId, 'migrate', 'prepareIncoming'),
        migration: {
          sourceHostId: d.sourceHostId,
          targetHostId: d.targetHostId,
          live: d.live,
          endpoint: null,
          handedOff: false,
        },
      };
    }
    case 'VmMigrationTargetPrepared':
      return {
        ...state,
        pending: advance(state, 'migrate'),
        migration: state.migration ? { ...state.migration, endpoint: event.data.endpoint } : null,
      };
    case 'VmMigrationProgressed':
      return state;
    case 'VmMigrationHandedOff':
      return {
        ...state,
        pending: advance(state, 'finishIncoming'),
        migration: state.migration ? { ...state.migration, handedOff: true } : null,
      };
    case 'VmMigrated':
      return {
        ...state,
        hostId: event.data.targetHostId,
        state: state.pending?.stateBefore ?? 'running',
        pending: null,
        migration: null,
      };
    case 'VmDeleteRequested':
      return { ...state, state: 'deleting', pending: open(state, event.data.operationId, 'delete', 'destroy') };
    case 'VmDeleted':
      return { ...state, state: 'deleted', pending: null, migration: null };
    case 'VmOperationRunning':
      return state.pending ? { ...state, pending: { ...state.pending, running: true } } : state;
    case 'VmOperationFailed':
      return {
        ...state,
        hostId: event.data.hostId ?? state.hostId,
        state: event.data.state,
        pending: null,
        migration: null,
      };
    case 'VmOperationCancelRequested':
      return state.pending?.id === event.data.operationId
        ? { ...state, pending: { ...state.pending, cancelRequested: event.data.cancelled } }
        : state;
    case 'VmCrashed':
      return { ...processEnded(state), state: 'stopped' };
    case 'VmStateReconciled':
      return { ...state, state: event.data.to };
    case 'VmRecoveryRequested': {
      const d = event.data;
      return {
        ...state,
        hostId: d.targetHostId,
        state: 'provisioning',
        pending: open(state, d.operationId, 'recover', 'define', { stateBefore: 'stopped' }),
        migration: null,
        recoveredFences: [...(state.recoveredFences ?? []), d.fenceId],
      };
    }
    case 'VmRestartPolicyChanged':
      return { ...state, restartPolicy: event.data.policy };
    case 'VmRestartScheduled':
    case 'VmHealingGaveUp':
    case 'VmHealingCancelled':
      return state; // healing's own state: evolveHealing
    case 'VmResizeStarted':
      return {
        ...state,
        pending: open(state, event.data.operationId, 'resize', 'resizeLive', { live: true, resizeTo: event.data.to }),
      };
    case 'VmResized': {
      const { operationId: _id, live, ...size } = event.data;
      const spec = state.spec ? { ...state.spec, ...size } : state.spec;
      const grown = live && state.spec ? Math.max(0, size.memoryMiB - state.spec.memoryMiB) : 0;
      // A live resize closes its operation; a cold one never opened one (the VM stays as it was).
      return {
        ...state,
        spec,
        ...(live ? { pending: null } : {}),
        ...(grown ? { liveMemoryGrownMiB: (state.liveMemoryGrownMiB ?? 0) + grown } : {}),
      };
    }
  }
}

/** The VM's process is gone: what was plugged into it live went with it (the next start is cold). */
function processEnded(state: VmState): VmState {
  const { liveMemoryGrownMiB: _gone, ...rest } = state;
  return rest;
}
