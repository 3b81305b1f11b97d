import type { DomainEvent } from '../decider.js';

/** The host-side steps of a volume's own operations (attach/detach are the VM's operations). */
export type VolumeStep = 'createVolume' | 'resizeVolume' | 'deleteVolume';
export type VolumeOperationKind = VolumeStep;

/** Asked for: the host was chosen (and its disk reserved) before this was recorded. */
export type VolumeCreateRequested = DomainEvent<
  'VolumeCreateRequested',
  { volumeId: string; operationId: string; name: string; sizeGiB: number; hostId: string; project: string }
>;
/** The file (qcow2, or a directory for containers) exists on the host. */
export type VolumeCreated = DomainEvent<'VolumeCreated', { operationId: string }>;
export type VolumeResizeRequested = DomainEvent<
  'VolumeResizeRequested',
  { operationId: string; fromGiB: number; sizeGiB: number; project: string; vmId?: string }
>;
export type VolumeResized = DomainEvent<'VolumeResized', { operationId: string; sizeGiB: number }>;
export type VolumeDeleteRequested = DomainEvent<'VolumeDeleteRequested', { operationId: string; project: string }>;
/** The file is gone from the host: the volume is no more (its stream stays, for history). */
export type VolumeDeleted = DomainEvent<'VolumeDeleted', { operationId: string }>;
/** A step on the host failed: the volume is back where it was (a failed create: `failed`, deletable). */
export type VolumeOperationFailed = DomainEvent<
  'VolumeOperationFailed',
  { operationId: string; kind: VolumeOperationKind; reason: string }
>;
/**
 * Claimed by a VM's attach operation (`operationId` is the VM's): from now on no other VM may
 * take it and it cannot be deleted, until VolumeDetached.
 */
export type VolumeAttached = DomainEvent<'VolumeAttached', { vmId: string; operationId: string }>;
/** Released: the VM's detach succeeded, its attach failed, or the VM was deleted. */
export type VolumeDetached = DomainEvent<'VolumeDetached', { vmId: string; operationId: string; reason: string }>;

/** Its VM migrated with it: the file now lives on (and counts against) the target host. */
export type VolumeMoved = DomainEvent<
  'VolumeMoved',
  { vmId: string; operationId: string; fromHostId: string; toHostId: string }
>;

export type VolumeEvent =
  | VolumeMoved
  | VolumeCreateRequested
  | VolumeCreated
  | VolumeResizeRequested
  | VolumeResized
  | VolumeDeleteRequested
  | VolumeDeleted
  | VolumeOperationFailed
  | VolumeAttached
  | VolumeDetached;
export type VolumeEventType = VolumeEvent['type'];

const TYPES: Record<VolumeEventType, true> = {
  VolumeMoved: true,
  VolumeCreateRequested: true,
  VolumeCreated: true,
  VolumeResizeRequested: true,
  VolumeResized: true,
  VolumeDeleteRequested: true,
  VolumeDeleted: true,
  VolumeOperationFailed: true,
  VolumeAttached: true,
  VolumeDetached: true,
};

export function isVolumeEventType(type: string): type is VolumeEventType {
  return Object.prototype.hasOwnProperty.call(TYPES, type);
}

/** Request events open a volume operation; their type names its kind. */
export const VOLUME_REQUEST_KIND: Partial<Record<VolumeEventType, VolumeOperationKind>> = {
  VolumeCreateRequested: 'createVolume',
  VolumeResizeRequested: 'resizeVolume',
  VolumeDeleteRequested: 'deleteVolume',
};
