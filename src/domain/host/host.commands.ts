import type { HostCapabilities, HostLifecycleState, Resources } from './host.events.js';

export type HostCommand =
  | {
      type: 'RegisterHost';
      hostId: string;
      name: string;
      driver: string;
      uri: string;
      capacity: Resources;
      capabilities?: HostCapabilities;
    }
  | { type: 'ReserveCapacity'; vmId: string; operationId: string; vcpus: number; memoryMiB: number }
  | { type: 'ReleaseCapacity'; vmId: string; operationId: string }
  | { type: 'SetHostState'; state: HostLifecycleState };
