import type { VolumeStep } from './volume.events.js';

export type VolumeCommand =
  | {
      type: 'CreateVolume';
      volumeId: string;
      operationId: string;
      name: string;
      sizeGiB: number;
      /** Chosen (and its disk reserved) by the caller before the decision. */
      hostId: string;
      project: string;
    }
  | { type: 'ResizeVolume'; operationId: string; sizeGiB: number }
  | { type: 'DeleteVolume'; operationId: string }
  /** A VM's attach claims the volume; `vmHostId`: the VM's host, which must be the volume's. */
  | { type: 'ClaimVolume'; vmId: string; operationId: string; vmHostId: string | null }
  /** The VM holding it migrated to `hostId` (its storage migration carried the file). */
  | { type: 'MoveVolume'; vmId: string; operationId: string; hostId: string }
  | { type: 'ReleaseVolume'; vmId: string; operationId: string; reason: string }
  | { type: 'RecordVolumeStepSucceeded'; operationId: string; step: VolumeStep }
  | { type: 'RecordVolumeStepFailed'; operationId: string; step: VolumeStep; reason: string };
