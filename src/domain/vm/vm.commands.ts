import type { ObservationEvidence, ObservedState, PlacementEvidence } from './evidence.js';
import type { CapabilityView, JobStep, RestartPolicy, VmSpecData, VolumeSpec } from './vm.types.js';
import type { HealingSettings } from './vm.healing-state.js';

export type { ObservedState };

/** What a worker returns with a successful step. */
export interface StepOutput {
  /** revert: the state the domain is in afterwards. */
  state?: 'running' | 'paused' | 'stopped';
  /** prepareIncoming: where the source must send the VM. */
  endpoint?: Record<string, string | number | boolean>;
  /** define: the same job starts the VM next (a create that should run); no start job is to follow. */
  startFollows?: boolean;
  /**
   * prepareIncoming: the target's worker queued the source's migrate itself. A cancel asked
   * meanwhile is then decided by the migrate's own outcome (it may have run), not closed here.
   */
  migrateQueued?: boolean;
}

export interface MigrationProgress {
  percent?: number;
  transferredBytes?: number;
  remainingBytes?: number;
  totalBytes?: number;
}

export type VmCommand =
  | {
      type: 'CreateVm';
      vmId: string;
      operationId: string;
      spec: VmSpecData;
      hostId: string | null;
      start: boolean;
      /** Absent: the `default` project (as in events recorded before projects). */
      project?: string;
      restartPolicy?: RestartPolicy;
    }
  | { type: 'PlaceVm'; operationId: string; hostId: string; evidence?: PlacementEvidence }
  | { type: 'FailPlacement'; operationId: string; reason: string; evidence?: PlacementEvidence }
  /** `by`: the principal, recorded on a scheduled restart the start supersedes. */
  | { type: 'StartVm'; operationId: string; by?: string }
  /** `by`: the principal, recorded on a graceful stop a forced one supersedes. */
  | { type: 'StopVm'; operationId: string; force: boolean; timeoutMs?: number; by?: string }
  | { type: 'RebootVm'; operationId: string; capabilities: CapabilityView }
  | { type: 'PauseVm'; operationId: string; capabilities: CapabilityView }
  | { type: 'ResumeVm'; operationId: string; capabilities: CapabilityView }
  | { type: 'TakeSnapshot'; operationId: string; name: string; memory: boolean; capabilities: CapabilityView }
  | { type: 'RevertSnapshot'; operationId: string; name: string }
  | { type: 'DeleteSnapshot'; operationId: string; name: string }
  | {
      type: 'MigrateVm';
      operationId: string;
      targetHostId: string;
      live: boolean;
      source: { driver: string; capabilities: CapabilityView };
      target: { driver: string; capabilities: CapabilityView };
      /** The move keeps internal snapshots (shared storage, or a driver that carries them): a live one may go. */
      internalSnapshotsTravel?: boolean;
      /** Whether memory added live since the VM's last start travels too (absent: it does). */
      hotplugLayoutTravels?: boolean;
    }
  | { type: 'DeleteVm'; operationId: string }
  /** `operationId`: the operation to cancel (not a new one); `by`: the principal asking. */
  | { type: 'CancelOperation'; operationId: string; by: string; reason?: string }
  /** `capabilities`: the VM's host's, when it runs (a live resize needs its `hotResize`); absent = none. */
  | {
      type: 'ResizeVm';
      operationId: string;
      vcpus?: number;
      memoryMiB?: number;
      diskGiB?: number;
      capabilities?: CapabilityView;
    }
  /** `hotplug`: the host's driver can attach to a running VM (the volume's claim is recorded first). */
  | { type: 'AttachVolume'; operationId: string; volume: VolumeSpec; hotplug: boolean }
  | { type: 'DetachVolume'; operationId: string; volumeId: string; hotplug: boolean }
  /** An attached volume grew (its own operation): the VM's record of it follows. */
  | { type: 'NoteVolumeSize'; volumeId: string; sizeGiB: number }
  | { type: 'MarkOperationRunning'; operationId: string; step: JobStep }
  | { type: 'RecordStepSucceeded'; operationId: string; step: JobStep; output: StepOutput; at: string }
  | { type: 'RecordStepFailed'; operationId: string; step: JobStep; reason: string }
  | { type: 'RecordMigrationProgress'; operationId: string; progress: MigrationProgress }
  | {
      type: 'ReportObservedState';
      observed: ObservedState;
      reason: string;
      /** True while the queue still holds a job for the pending operation. */
      jobActive: boolean;
      /** Recorded in whatever event the observation decides. */
      evidence?: ObservationEvidence;
    }
  | HealingCommand;

/** From the healing process manager, its timers, PATCH, and fence recovery (see vm.healing.ts, vm.recovery.ts). */
export type HealingCommand =
  | {
      type: 'ScheduleRestart';
      operationId: string;
      causeEventId: string;
      causePosition: string;
      causeAt: string;
      settings: HealingSettings;
    }
  | { type: 'FireRestart'; operationId: string; by: string }
  | { type: 'SetRestartPolicy'; operationId: string; policy: RestartPolicy; by: string }
  | {
      type: 'RecoverVm';
      operationId: string;
      fenceId: string;
      fromHostId: string;
      targetHostId: string;
      evidence: PlacementEvidence;
    }
  /** Its host was fenced and it cannot (or may not) be recovered elsewhere: it reads crashed, with why. */
  | { type: 'MarkLostWithHost'; fenceId: string; hostId: string; reason: string };

export type VmCommandType = VmCommand['type'];
