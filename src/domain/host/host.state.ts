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
import { allocationEntries, allocationOf, withAllocation, type Allocations } from './allocations.js';

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
  /** vmId → what it holds on this host (read through allocations.ts: kept in buckets). */
  allocations: Allocations;
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
  /**
   * What `allocations` and `volumes` add up to, kept by evolveHost so a capacity check is
   * O(1), not a sum over every VM on the host per command. Absent in a state not folded
   * by evolveHost since it existed (a literal, a state cached before): then it is summed.
   */
  used?: HostUsage;
}

export interface HostUsage {
  vcpus: number;
  memoryMiB: number;
  /** The VMs' own disks. */
  diskGiB: number;
  /** The volumes' files. */
  volumesGiB: number;
}

/** The totals of a state: kept ones, or a sum over its allocations and volumes. */
export function usageOf(state: HostState): HostUsage {
  if (state.used) return state.used;
  const used: HostUsage = { vcpus: 0, memoryMiB: 0, diskGiB: 0, volumesGiB: 0 };
  for (const [, r] of allocationEntries(state.allocations)) {
    used.vcpus += r.vcpus;
    used.memoryMiB += r.memoryMiB;
    used.diskGiB += r.diskGiB ?? 0;
  }
  for (const gib of Object.values(state.volumes ?? {})) used.volumesGiB += gib;
  return used;
}

/** `used` with one VM's reservation replaced: `was` taken out, `now` put in (either may be absent). */
function withVm(used: HostUsage, was: Resources | undefined, now: Resources | undefined): HostUsage {
  return {
    ...used,
    vcpus: used.vcpus - (was?.vcpus ?? 0) + (now?.vcpus ?? 0),
    memoryMiB: used.memoryMiB - (was?.memoryMiB ?? 0) + (now?.memoryMiB ?? 0),
    diskGiB: used.diskGiB - (was?.diskGiB ?? 0) + (now?.diskGiB ?? 0),
  };
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
  const { vcpus, memoryMiB, diskGiB, volumesGiB } = usageOf(state);
  // Disk shows only on hosts that count it, so a host registered without diskGiB reads as before.
  return state.capacity.diskGiB !== undefined
    ? { vcpus, memoryMiB, diskGiB: diskGiB + volumesGiB }
    : { vcpus, memoryMiB };
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
        // Kept from the first event on, so a host whose VMs all left is byte for byte as registered.
        used: usageOf(state),
      };
    }
    case 'HostCapacityReserved': {
      const held: Resources = {
        vcpus: event.data.vcpus,
        memoryMiB: event.data.memoryMiB,
        ...(event.data.diskGiB !== undefined ? { diskGiB: event.data.diskGiB } : {}),
      };
      return {
        ...state,
        allocations: withAllocation(state.allocations, event.data.vmId, held),
        // A resize reserves again for the same VM: what it held before is replaced, not added to.
        used: withVm(usageOf(state), allocationOf(state.allocations, event.data.vmId), held),
      };
    }
    case 'HostVolumeDiskReserved': {
      const used = usageOf(state);
      const was = state.volumes?.[event.data.volumeId] ?? 0;
      return {
        ...state,
        volumes: { ...state.volumes, [event.data.volumeId]: event.data.sizeGiB },
        used: { ...used, volumesGiB: used.volumesGiB - was + event.data.sizeGiB },
      };
    }
    case 'HostVolumeDiskReleased': {
      const used = usageOf(state);
      const volumes = { ...state.volumes };
      const was = volumes[event.data.volumeId] ?? 0;
      delete volumes[event.data.volumeId];
      return { ...state, volumes, used: { ...used, volumesGiB: used.volumesGiB - was } };
    }
    case 'HostCapacityReleased': {
      const was = allocationOf(state.allocations, event.data.vmId);
      const allocations = withAllocation(state.allocations, event.data.vmId, undefined);
      return { ...state, allocations, used: withVm(usageOf(state), was, undefined) };
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
