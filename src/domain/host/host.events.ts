import type { DomainEvent } from '../decider.js';
import type { CapabilityView } from '../vm/vm.types.js';

export interface Resources {
  vcpus: number;
  memoryMiB: number;
  /** Disk for VM disks and volumes; absent on a host's capacity = unlimited (hosts registered before it). */
  diskGiB?: number;
}

export type HostLifecycleState = 'active' | 'draining';

/** What the host's driver declared at registration (hardware acceleration is informational). */
export type HostCapabilities = CapabilityView & { hardwareAcceleration: boolean };

export type HostRegistered = DomainEvent<
  'HostRegistered',
  {
    hostId: string;
    name: string;
    driver: string;
    uri: string;
    capacity: Resources;
    /** Recorded since the API stopped asking drivers; absent on older events (ask the driver registry then). */
    capabilities?: HostCapabilities;
    /** Free-form key/values (placement constraints); absent on older events. */
    labels?: Record<string, string>;
  }
>;
export type HostCapacityReserved = DomainEvent<
  'HostCapacityReserved',
  { vmId: string; operationId: string; vcpus: number; memoryMiB: number; diskGiB?: number }
>;
/** A volume's file takes (or, resized, now takes) `sizeGiB` of the host's disk. */
export type HostVolumeDiskReserved = DomainEvent<
  'HostVolumeDiskReserved',
  { volumeId: string; operationId: string; sizeGiB: number }
>;
export type HostVolumeDiskReleased = DomainEvent<'HostVolumeDiskReleased', { volumeId: string; operationId: string }>;
export type HostCapacityReleased = DomainEvent<'HostCapacityReleased', { vmId: string; operationId: string }>;
export type HostStateChanged = DomainEvent<'HostStateChanged', { state: HostLifecycleState }>;

/** Capacity and/or labels changed (`PATCH /v1/hosts/{id}`); only what changed is present. */
export type HostUpdated = DomainEvent<'HostUpdated', { capacity?: Resources; labels?: Record<string, string> }>;
/** Deregistered with no VM left on it: gone from lists, its worker stops serving it. */
export type HostRemoved = DomainEvent<'HostRemoved', { hostId: string; name: string }>;

/** One VM an evacuation moves: its child operation is a migration on the VM's own stream. */
export interface EvacuationChild {
  vmId: string;
  operationId: string;
  targetHostId: string;
  live: boolean;
}
/** A VM an evacuation could not even start to move, and why. */
export interface EvacuationRefusal {
  vmId: string;
  reason: string;
}
/**
 * The control plane heard no heartbeat from the host's worker for `silentMs`
 * (over HOST_DEAD_MS): placement skips the host until it is heard again.
 * The evidence: the last heartbeat seen (the worker's clock) and who noticed.
 */
export type HostUnreachable = DomainEvent<
  'HostUnreachable',
  { lastHeartbeatAt: string; lastHeartbeatBy: string; silentMs: number; observedBy: string }
>;
/** Heartbeats resumed after HostUnreachable. */
export type HostReachable = DomainEvent<
  'HostReachable',
  { heartbeatAt: string; heartbeatBy: string; observedBy: string }
>;

/**
 * What a fence rests on. `admin`: an administrator asserts the host is off (power cut, STONITH
 * done out of band) while the control plane saw it unreachable, and that evidence is kept.
 * `worker`: the host's own worker stopped every VM it ran, then said so on its way out.
 */
export type FenceEvidence =
  | { kind: 'admin'; unreachable: HostUnreachable['data'] }
  | { kind: 'worker'; confirmedBy: string; stoppedVms: string[] };

/**
 * The host is out: nothing it ran is running any more (see FenceEvidence). Its VMs with a
 * restartPolicy and shared storage are recovered elsewhere, once per `fenceId`; the others read
 * crashed with why. Placement skips it until it is heard again.
 */
export type HostFenced = DomainEvent<
  'HostFenced',
  { fenceId: string; by: string; reason?: string; evidence: FenceEvidence }
>;

/** The parent operation of an evacuation: the migrations it asked for and the VMs it could not move. */
export type HostEvacuationStarted = DomainEvent<
  'HostEvacuationStarted',
  { operationId: string; children: EvacuationChild[]; refused: EvacuationRefusal[] }
>;

/** A job of the host's queue as an operator acted on it (retry or discard of a failed job). */
export interface QueueJobRef {
  jobId: string;
  step: string;
  operationId: string | null;
  vmId: string | null;
  /** Why BullMQ failed it, as it read when the operator acted. */
  error: string;
  attempts: number;
}
/** An operator put a failed job of the host's queue back to waiting (`POST …/failed/{jobId}/retry`). */
export type HostJobRetried = DomainEvent<'HostJobRetried', QueueJobRef & { by: string }>;
/** An operator gave a failed job up (`DELETE …/failed/{jobId}`): its operation fails with this reason. */
export type HostJobDiscarded = DomainEvent<'HostJobDiscarded', QueueJobRef & { by: string; reason: string }>;

export type HostEvent =
  | HostRegistered
  | HostCapacityReserved
  | HostCapacityReleased
  | HostVolumeDiskReserved
  | HostVolumeDiskReleased
  | HostStateChanged
  | HostUpdated
  | HostRemoved
  | HostEvacuationStarted
  | HostUnreachable
  | HostReachable
  | HostJobRetried
  | HostJobDiscarded
  | HostFenced;
export type HostEventType = HostEvent['type'];

export function isHostEventType(type: string): type is HostEventType {
  return (
    type === 'HostRegistered' ||
    type === 'HostCapacityReserved' ||
    type === 'HostCapacityReleased' ||
    type === 'HostVolumeDiskReserved' ||
    type === 'HostVolumeDiskReleased' ||
    type === 'HostStateChanged' ||
    type === 'HostUpdated' ||
    type === 'HostRemoved' ||
    type === 'HostEvacuationStarted' ||
    type === 'HostUnreachable' ||
    type === 'HostReachable' ||
    type === 'HostJobRetried' ||
    type === 'HostJobDiscarded' ||
    type === 'HostFenced'
  );
}
