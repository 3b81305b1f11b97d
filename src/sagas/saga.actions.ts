import type { JobStep } from '../domain/vm/vm.types.js';
import type { HealingCommand } from '../domain/vm/vm.commands.js';
import type { StepJob, VmStepJob } from '../application/jobs.js';
import type { VolumeStep } from '../domain/volume/volume.events.js';

/**
 * What a saga wants done. Sagas are pure: they return actions, and the runner
 * performs them against the ports (host stream, queue).
 */
export type SagaAction =
  | {
      type: 'place';
      vmId: string;
      operationId: string;
      requestedHostId: string | null;
      vcpus: number;
      memoryMiB: number;
      /** Only hosts whose labels match (the VM's spec). */
      hostSelector?: Record<string, string>;
      strategy?: 'spread' | 'pack';
      /** A group member comes pinned to the host its admission chose; the admission is its evidence. */
      placementGroupId?: string;
      /** The VM's own disk, counted on hosts that declare a disk capacity. */
      diskGiB?: number;
      /**
       * Once placed, queue the VM's define job on the chosen host at once, under `jobId`: the pass
       * over VmPlaced queues the same id (a no-op then; what queues it when this could not), so
       * the create does not wait for VmPlaced to go through the saga runner first.
       */
      define?: { args: { thenStart?: boolean }; jobId: string };
    }
  /** Reserve on a host's own stream; a refusal fails `failStep` of the operation with the reason. */
  | {
      type: 'reserve';
      hostId: string;
      vmId: string;
      operationId: string;
      vcpus: number;
      memoryMiB: number;
      diskGiB?: number;
      failStep: JobStep;
    }
  | { type: 'release'; hostId: string; vmId: string; operationId: string }
  /** Set the VM's reservation on its host to the size it has once a live resize closed (always a shrink). */
  | { type: 'resizeReservation'; hostId: string; vmId: string; operationId: string; vcpus: number; memoryMiB: number }
  /** Give a VM's addresses back to each of its networks (a network where it holds none decides nothing). */
  | { type: 'releaseAddresses'; vmId: string; networkIds: string[] }
  /** One step on a host's queue, with that step's own arguments. */
  | ({ type: 'enqueue' } & JobTarget & VmStepJob)
  /** Compensation: runs even though the operation is already closed. */
  | ({ type: 'compensate' } & JobTarget & VmStepJob)
  /** A command on the VM's own stream (healing); the decider ignores one already decided. */
  | { type: 'command'; vmId: string; command: HealingCommand }
  /** Fire FireRestart for this operation at notBefore (a timer the runner keeps and rebuilds after a restart). */
  | { type: 'timer'; vmId: string; operationId: string; notBefore: string }
  /** Every VM of a host just fenced: recover it elsewhere or mark it lost (the runner plans each). */
  | { type: 'recoverHost'; hostId: string; fenceId: string }
  /** A volume's own step on its host's queue (guarded by the volume's pending operation). */
  | ({ type: 'enqueueVolume'; hostId: string; volumeId: string; operationId: string } & Extract<
      StepJob,
      { step: VolumeStep }
    >)
  /** The VM no longer holds the volume (detached, attach failed, VM deleted): the volume's claim ends. */
  | { type: 'releaseVolume'; volumeId: string; vmId: string; operationId: string; reason: string }
  /** The VM migrated with its volumes: each volume's record (and disk) moves to the target host. */
  | { type: 'moveVolume'; volumeId: string; vmId: string; operationId: string; hostId: string }
  | { type: 'noteVmVolumeSize'; vmId: string; volumeId: string; sizeGiB: number; operationId: string }
  | { type: 'reserveVolumeDisk'; hostId: string; volumeId: string; operationId: string; sizeGiB: number }
  /** A deleted volume gives its disk back to its host. */
  | { type: 'releaseVolumeDisk'; hostId: string; volumeId: string; operationId: string };

/** Which host runs a job, for which VM and operation. */
export interface JobTarget {
  hostId: string;
  vmId: string;
  operationId: string;
  /**
   * The BullMQ job id when it is not the causing event's: a job that a worker may already have
   * queued under that id (the target's finishIncoming, see finishJobId) is then not run twice.
   */
  jobId?: string;
}
