import type { JobStep } from '../domain/vm/vm.types.js';
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
      /** The VM's own disk, counted on hosts that declare a disk capacity. */
      diskGiB?: number;
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
  /** One step on a host's queue, with that step's own arguments. */
  | ({ type: 'enqueue' } & JobTarget & VmStepJob)
  /** Compensation: runs even though the operation is already closed. */
  | ({ type: 'compensate' } & JobTarget & VmStepJob)
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
}
