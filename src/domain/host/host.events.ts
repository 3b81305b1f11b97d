import type { DomainEvent } from '../decider.js';
import type { CapabilityView } from '../vm/vm.types.js';

export interface Resources {
  vcpus: number;
  memoryMiB: number;
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
  }
>;
export type HostCapacityReserved = DomainEvent<
  'HostCapacityReserved',
  { vmId: string; operationId: string; vcpus: number; memoryMiB: number }
>;
export type HostCapacityReleased = DomainEvent<'HostCapacityReleased', { vmId: string; operationId: string }>;
export type HostStateChanged = DomainEvent<'HostStateChanged', { state: HostLifecycleState }>;

export type HostEvent = HostRegistered | HostCapacityReserved | HostCapacityReleased | HostStateChanged;
export type HostEventType = HostEvent['type'];

export function isHostEventType(type: string): type is HostEventType {
  return (
    type === 'HostRegistered' ||
    type === 'HostCapacityReserved' ||
    type === 'HostCapacityReleased' ||
    type === 'HostStateChanged'
  );
}
