import type { DomainEvent } from '../decider.js';
import type { Evidence, ObservationEvidence, PlacementEvidence } from './evidence.js';
import type { JobStep, OperationKind, RestartPolicy, VmSize, VmSpecData, VmStateName, VolumeSpec } from './vm.types.js';

/**
 * Current schema version of the VM event types that have changed; the others are at
 * version 1. Stored events are never rewritten: src/application/upcasters.ts turns an
 * older version into the current shape on read.
 */
export const VM_EVENT_VERSIONS = {
  // v2: the destination is `targetHostId`, as in VmMigrationRequested/HandedOff (v1 called it `hostId`).
  VmMigrated: 2,
} as const satisfies Partial<Record<VmEventType, number>>;

export type VmCreateRequested = DomainEvent<
  'VmCreateRequested',
  {
    vmId: string;
    operationId: string;
    spec: VmSpecData;
    requestedHostId: string | null;
    start: boolean;
    /** Absent in events recorded before projects: those VMs belong to `default` (see evolveVm). */
    project?: string;
    /** What healing does when it goes down unasked; absent (older events, or not given) = `never`. */
    restartPolicy?: RestartPolicy;
  }
>;
export type VmPlaced = DomainEvent<'VmPlaced', { operationId: string; hostId: string; evidence?: PlacementEvidence }>;
/** `startFollows`: the job that defined it starts it too (absent in events before it existed: a start job follows). */
export type VmDefined = DomainEvent<'VmDefined', { operationId: string; hostId: string; startFollows?: boolean }>;
/** `restart`: set when healing starts it (the operation VmRestartScheduled opened), naming the crash it answers. */
export type VmStartRequested = DomainEvent<
  'VmStartRequested',
  { operationId: string; restart?: { causeEventId: string; attempt: number } }
>;
export type VmStarted = DomainEvent<'VmStarted', { operationId: string }>;
export type VmStopRequested = DomainEvent<
  'VmStopRequested',
  { operationId: string; force: boolean; timeoutMs?: number }
>;
export type VmStopped = DomainEvent<'VmStopped', { operationId: string }>;
export type VmRebootRequested = DomainEvent<'VmRebootRequested', { operationId: string }>;
export type VmRebooted = DomainEvent<'VmRebooted', { operationId: string }>;
export type VmPauseRequested = DomainEvent<'VmPauseRequested', { operationId: string }>;
export type VmPaused = DomainEvent<'VmPaused', { operationId: string }>;
export type VmResumeRequested = DomainEvent<'VmResumeRequested', { operationId: string }>;
export type VmResumed = DomainEvent<'VmResumed', { operationId: string }>;
export type VmSnapshotRequested = DomainEvent<
  'VmSnapshotRequested',
  { operationId: string; name: string; memory: boolean }
>;
export type VmSnapshotTaken = DomainEvent<
  'VmSnapshotTaken',
  { operationId: string; name: string; memory: boolean; createdAt: string }
>;
export type VmSnapshotRevertRequested = DomainEvent<'VmSnapshotRevertRequested', { operationId: string; name: string }>;
export type VmSnapshotReverted = DomainEvent<
  'VmSnapshotReverted',
  { operationId: string; name: string; state: 'running' | 'paused' | 'stopped' }
>;
export type VmSnapshotDeleteRequested = DomainEvent<'VmSnapshotDeleteRequested', { operationId: string; name: string }>;
export type VmSnapshotDeleted = DomainEvent<'VmSnapshotDeleted', { operationId: string; name: string }>;
export type VmMigrationRequested = DomainEvent<
  'VmMigrationRequested',
  { operationId: string; sourceHostId: string; targetHostId: string; live: boolean }
>;
export type VmMigrationTargetPrepared = DomainEvent<
  'VmMigrationTargetPrepared',
  { operationId: string; targetHostId: string; endpoint: Record<string, string | number | boolean> }
>;
export type VmMigrationProgressed = DomainEvent<
  'VmMigrationProgressed',
  { operationId: string; percent?: number; transferredBytes?: number; remainingBytes?: number; totalBytes?: number }
>;
export type VmMigrationHandedOff = DomainEvent<'VmMigrationHandedOff', { operationId: string; targetHostId: string }>;
export type VmMigrated = DomainEvent<'VmMigrated', { operationId: string; sourceHostId: string; targetHostId: string }>;
/** VmMigrated as schema version 1 wrote it (only the upcaster reads this shape). */
export interface VmMigratedV1Data {
  operationId: string;
  sourceHostId: string;
  hostId: string;
}
export type VmDeleteRequested = DomainEvent<'VmDeleteRequested', { operationId: string }>;
/** `evidence`: set when a reconciler closed the delete on seeing the VM absent. */
export type VmDeleted = DomainEvent<'VmDeleted', { operationId: string; evidence?: ObservationEvidence }>;
/** A worker picked the operation up: pending → running. */
export type VmOperationRunning = DomainEvent<'VmOperationRunning', { operationId: string; step: JobStep }>;
export type VmOperationFailed = DomainEvent<
  'VmOperationFailed',
  {
    operationId: string;
    kind: OperationKind;
    step: JobStep | 'placement';
    reason: string;
    state: VmStateName;
    /** A failed placement's candidates, or what a reconciler saw when it closed an abandoned operation. */
    evidence?: Evidence;
    /** Set when the operation did not fail but was cancelled: by whom, why, or which forced stop superseded it. */
    cancelled?: OperationCancellation;
    /**
     * Where the VM is from now on, when the failure moved it: a migration handed off to a host
     * that was then fenced ends with the VM on that host (its guest ran there, not on the source).
     */
    hostId?: string;
  }
>;
/**
 * A cancel asked of a migration before its hand-off. Nothing is undone yet: the worker aborts the
 * driver call and QEMU decides. The step's result then closes the operation as cancelled (with
 * this principal) or, when the migration had already completed, as the success it is.
 */
export type VmOperationCancelRequested = DomainEvent<
  'VmOperationCancelRequested',
  { operationId: string; step: JobStep | 'placement'; cancelled: OperationCancellation }
>;
export interface OperationCancellation {
  by: string;
  reason?: string;
  supersededBy?: string;
}
/** The driver says the VM stopped without being asked (process died, guest powered off). */
export type VmCrashed = DomainEvent<
  'VmCrashed',
  {
    reason: string;
    previousState: VmStateName;
    evidence?: ObservationEvidence;
    /** Down because its host was fenced (and it was not recovered elsewhere): which fence. */
    fence?: { hostId: string; fenceId: string };
  }
>;

/**
 * Healing answers a crash (or the failure of its previous restart): restart attempt `attempt`,
 * not before `notBefore` (= the cause's time + `delayMs`, exponential backoff). It opens the
 * `restart` operation, which the normal start path (VmStartRequested with `restart`) carries on.
 */
export type VmRestartScheduled = DomainEvent<
  'VmRestartScheduled',
  {
    operationId: string;
    causeEventId: string;
    /** The cause's position in the global log (decimal). */
    causePosition: string;
    causeAt: string;
    policy: RestartPolicy;
    attempt: number;
    delayMs: number;
    notBefore: string;
  }
>;
/** The restart limit was reached: the VM stays crashed. */
export type VmHealingGaveUp = DomainEvent<
  'VmHealingGaveUp',
  { causeEventId: string; causePosition: string; restarts: number; windowMs: number; reason: string }
>;
/** A scheduled restart that will not happen: an operator's start/stop superseded it, or the VM moved on. */
export type VmHealingCancelled = DomainEvent<'VmHealingCancelled', { operationId: string; by: string; reason: string }>;
export type VmRestartPolicyChanged = DomainEvent<
  'VmRestartPolicyChanged',
  { operationId: string; policy: RestartPolicy }
>;
/**
 * The VM's host was fenced: the VM is re-placed on `targetHostId` (which shares its storage) and
 * started there. Once per fence (`fenceId`); the placement evidence says why that host.
 */
export type VmRecoveryRequested = DomainEvent<
  'VmRecoveryRequested',
  { operationId: string; fenceId: string; fromHostId: string; targetHostId: string; evidence: PlacementEvidence }
>;
/** Reconciliation resolved a state the log and the driver disagreed on. */
export type VmStateReconciled = DomainEvent<
  'VmStateReconciled',
  { from: VmStateName; to: VmStateName; reason: string; evidence?: ObservationEvidence }
>;

/**
 * The VM's new size. Cold (a stopped VM, no `live`): the host's reservation was changed first;
 * drivers apply it at the next start; `maxVcpus`/`maxMemoryMiB` are set when the new size goes
 * past a ceiling (the ceiling rises with it). Live (`live: true`): the worker applied it to the
 * running VM, closing the `resize` operation VmResizeStarted opened.
 */
export type VmResized = DomainEvent<
  'VmResized',
  {
    operationId: string;
    vcpus: number;
    memoryMiB: number;
    diskGiB: number;
    maxVcpus?: number;
    maxMemoryMiB?: number;
    live?: true;
  }
>;
/**
 * A running VM is being resized live (the host's reservation already holds `to`): the VM is busy
 * with a `resize` operation until the worker's result (VmResized live, or VmOperationFailed, after
 * which the VM runs at `from` and the saga puts the reservation back).
 */
export type VmResizeStarted = DomainEvent<
  'VmResizeStarted',
  { operationId: string; from: VmSize; to: VmSize; live: true }
>;

/** Attach a volume (the volume's stream recorded the claim first); hot when the VM runs. */
export type VmVolumeAttachRequested = DomainEvent<
  'VmVolumeAttachRequested',
  { operationId: string; volume: VolumeSpec; live: boolean }
>;
export type VmVolumeAttached = DomainEvent<'VmVolumeAttached', { operationId: string; volume: VolumeSpec }>;
export type VmVolumeDetachRequested = DomainEvent<
  'VmVolumeDetachRequested',
  { operationId: string; volumeId: string; live: boolean }
>;
export type VmVolumeDetached = DomainEvent<'VmVolumeDetached', { operationId: string; volumeId: string }>;
/** An attached volume grew: not an operation of the VM (the volume's own), recorded for its view. */
export type VmVolumeResized = DomainEvent<'VmVolumeResized', { volumeId: string; sizeGiB: number }>;

export type VmEvent =
  | VmRestartScheduled
  | VmHealingGaveUp
  | VmHealingCancelled
  | VmRestartPolicyChanged
  | VmRecoveryRequested
  | VmVolumeResized
  | VmVolumeAttachRequested
  | VmVolumeAttached
  | VmVolumeDetachRequested
  | VmVolumeDetached
  | VmResized
  | VmResizeStarted
  | VmCreateRequested
  | VmPlaced
  | VmDefined
  | VmStartRequested
  | VmStarted
  | VmStopRequested
  | VmStopped
  | VmRebootRequested
  | VmRebooted
  | VmPauseRequested
  | VmPaused
  | VmResumeRequested
  | VmResumed
  | VmSnapshotRequested
  | VmSnapshotTaken
  | VmSnapshotRevertRequested
  | VmSnapshotReverted
  | VmSnapshotDeleteRequested
  | VmSnapshotDeleted
  | VmMigrationRequested
  | VmMigrationTargetPrepared
  | VmMigrationProgressed
  | VmMigrationHandedOff
  | VmMigrated
  | VmDeleteRequested
  | VmDeleted
  | VmOperationRunning
  | VmOperationFailed
  | VmOperationCancelRequested
  | VmCrashed
  | VmStateReconciled;

export type VmEventType = VmEvent['type'];

const TYPES: Record<VmEventType, true> = {
  VmRestartScheduled: true,
  VmHealingGaveUp: true,
  VmHealingCancelled: true,
  VmRestartPolicyChanged: true,
  VmRecoveryRequested: true,
  VmVolumeResized: true,
  VmVolumeAttachRequested: true,
  VmVolumeAttached: true,
  VmVolumeDetachRequested: true,
  VmVolumeDetached: true,
  VmResized: true,
  VmResizeStarted: true,
  VmCreateRequested: true,
  VmPlaced: true,
  VmDefined: true,
  VmStartRequested: true,
  VmStarted: true,
  VmStopRequested: true,
  VmStopped: true,
  VmRebootRequested: true,
  VmRebooted: true,
  VmPauseRequested: true,
  VmPaused: true,
  VmResumeRequested: true,
  VmResumed: true,
  VmSnapshotRequested: true,
  VmSnapshotTaken: true,
  VmSnapshotRevertRequested: true,
  VmSnapshotReverted: true,
  VmSnapshotDeleteRequested: true,
  VmSnapshotDeleted: true,
  VmMigrationRequested: true,
  VmMigrationTargetPrepared: true,
  VmMigrationProgressed: true,
  VmMigrationHandedOff: true,
  VmMigrated: true,
  VmDeleteRequested: true,
  VmDeleted: true,
  VmOperationRunning: true,
  VmOperationFailed: true,
  VmOperationCancelRequested: true,
  VmCrashed: true,
  VmStateReconciled: true,
};

export function isVmEventType(type: string): type is VmEventType {
  return Object.prototype.hasOwnProperty.call(TYPES, type);
}

/** Request events open an operation; their type names the operation kind. */
export const REQUEST_EVENT_KIND: Partial<Record<VmEventType, OperationKind>> = {
  VmCreateRequested: 'create',
  VmStartRequested: 'start',
  VmStopRequested: 'stop',
  VmRebootRequested: 'reboot',
  VmPauseRequested: 'pause',
  VmResumeRequested: 'resume',
  VmSnapshotRequested: 'snapshot',
  VmSnapshotRevertRequested: 'revert',
  VmSnapshotDeleteRequested: 'deleteSnapshot',
  VmMigrationRequested: 'migrate',
  VmDeleteRequested: 'delete',
  VmRestartScheduled: 'restart',
  VmRecoveryRequested: 'recover',
  VmVolumeAttachRequested: 'attachVolume',
  VmVolumeDetachRequested: 'detachVolume',
  VmResizeStarted: 'resize',
};
