import type {
  EvacuationChild,
  EvacuationRefusal,
  HostCapabilities,
  HostFenced,
  HostEvent,
  HostLifecycleState,
  HostUnreachable,
  Resources,
} from './host.events.js';

export interface HostState {
  exists: boolean;
  id: string | null;
  name: string;
  driver: string;
  uri: string;
  capacity: Resources;
  /** Null when the registration predates recorded capabilities. */
  capabilities: HostCapabilities | null;
  state: HostLifecycleState;
  /** vmId → what it holds on this host. */
  allocations: Record<string, Resources>;
  /** volumeId → GiB its file takes; optional: states cached before volumes have none. */
  volumes?: Record<string, number>;
  labels: Record<string, string>;
  /** Deregistered (HostRemoved): the stream stays, for history. */
  removed: boolean;
  /** Evacuations, by parent operation id. */
  evacuations: Record<string, { children: EvacuationChild[]; refused: EvacuationRefusal[] }>;
  /** Set while the worker is silent (HostUnreachable), with the evidence; null when heard (or never watched). */
  unreachable: (HostUnreachable['data'] & { since: string | null }) | null;
  /** Set by HostFenced until the host is heard again; absent in states cached before fencing existed. */
  fenced?: (HostFenced['data'] & { at: string | null }) | null;
  /** The last fence, kept after the host came back (its VMs recovered elsewhere must not run here). */
  lastFenceId?: string | null;
}

export function initialHostState(): HostState {
  return {
    exists: false,
    id: null,
    name: '',
    driver: '',
    uri: '',
    capacity: { vcpus: 0, memoryMiB: 0 },
    capabilities: null,
    state: 'active',
    allocations: {},
    labels: {},
    removed: false,
    evacuations: {},
    unreachable: null,
  };
}

export function allocated(state: HostState): Resources {
  const vms = Object.values(state.allocations).reduce<Required<Resources>>(
    (sum, r) => ({
      vcpus: sum.vcpus + r.vcpus,
      memoryMiB: sum.memoryMiB + r.memoryMiB,
      diskGiB: sum.diskGiB + (r.diskGiB ?? 0),
    }),
    { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
  );
  const volumes = Object.values(state.volumes ?? {}).reduce((a, b) => a + b, 0);
  // Disk shows only on hosts that count it, so a host registered without diskGiB reads as before.
  const { diskGiB, ...rest } = vms;
  return state.capacity.diskGiB !== undefined ? { ...rest, diskGiB: diskGiB + volumes } : rest;
}

/** What is left; `diskGiB` absent when the host's disk is not counted (no diskGiB in its capacity). */
export function free(state: HostState): Resources {
  const used = allocated(state);
  const disk = state.capacity.diskGiB;
  return {
    vcpus: state.capacity.vcpus - used.vcpus,
    memoryMiB: state.capacity.memoryMiB - used.memoryMiB,
    ...(disk !== undefined ? { diskGiB: disk - (used.diskGiB ?? 0) } : {}),
  };
}

/** `since`: when the event was recorded, for views that have it (the projection); deciders pass none. */
export function evolveHost(state: HostState, event: HostEvent, at: string | null = null): HostState {
  switch (event.type) {
    case 'HostRegistered': {
      const d = event.data;
      return {
        ...state,
        exists: true,
        id: d.hostId,
        name: d.name,
        driver: d.driver,
        uri: d.uri,
        capacity: d.capacity,
        capabilities: d.capabilities ?? null,
        labels: d.labels ?? {},
      };
    }
    case 'HostCapacityReserved':
      return {
        ...state,
        allocations: {
          ...state.allocations,
          [event.data.vmId]: {
            vcpus: event.data.vcpus,
            memoryMiB: event.data.memoryMiB,
            ...(event.data.diskGiB !== undefined ? { diskGiB: event.data.diskGiB } : {}),
          },
        },
      };
    case 'HostVolumeDiskReserved':
      return { ...state, volumes: { ...state.volumes, [event.data.volumeId]: event.data.sizeGiB } };
    case 'HostVolumeDiskReleased': {
      const volumes = { ...state.volumes };
      delete volumes[event.data.volumeId];
      return { ...state, volumes };
    }
    case 'HostCapacityReleased': {
      const allocations = { ...state.allocations };
      delete allocations[event.data.vmId];
      return { ...state, allocations };
    }
    case 'HostStateChanged':
      return { ...state, state: event.data.state };
    case 'HostUpdated':
      return {
        ...state,
        ...(event.data.capacity ? { capacity: event.data.capacity } : {}),
        ...(event.data.labels ? { labels: event.data.labels } : {}),
      };
    case 'HostRemoved':
      return { ...state, removed: true };
    case 'HostEvacuationStarted': {
      const { operationId, children, refused } = event.data;
      return { ...state, evacuations: { ...state.evacuations, [operationId]: { children, refused } } };
    }
    case 'HostUnreachable':
      return { ...state, unreachable: { ...event.data, since: at } };
    case 'HostReachable':
      // Heard again: a fenced host takes VMs again (its worker destroys the copies recovered elsewhere).
      return { ...state, unreachable: null, fenced: null };
    case 'HostFenced':
      return { ...state, fenced: { ...event.data, at }, lastFenceId: event.data.fenceId };
    case 'HostJobRetried':
    case 'HostJobDiscarded':
      // The audit trail of the queue: the host itself is unchanged.
      return state;
  }
}
