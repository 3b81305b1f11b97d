import type { NetworkEvent } from './network.events.js';

export interface NetworkAllocation {
  vmId: string;
  nicIndex: number;
  ip: string;
  mac: string;
  project: string;
}

export interface NetworkState {
  /** True from NetworkCreated until NetworkDeleted. */
  exists: boolean;
  deleted: boolean;
  id: string | null;
  name: string;
  cidr: string;
  prefixLength: number;
  gateway: string;
  nat: boolean;
  vni: number;
  /** Addresses held now, in allocation order. */
  allocations: NetworkAllocation[];
}

export function initialNetworkState(): NetworkState {
  return {
    exists: false,
    deleted: false,
    id: null,
    name: '',
    cidr: '',
    prefixLength: 0,
    gateway: '',
    nat: false,
    vni: 0,
    allocations: [],
  };
}

export function evolveNetwork(state: NetworkState, event: NetworkEvent): NetworkState {
  switch (event.type) {
    case 'NetworkCreated': {
      const d = event.data;
      return {
        ...state,
        exists: true,
        id: d.networkId,
        name: d.name,
        cidr: d.cidr,
        prefixLength: d.prefixLength,
        gateway: d.gateway,
        nat: d.nat,
        vni: d.vni,
      };
    }
    case 'NetworkAddressAllocated': {
      const { vmId, nicIndex, ip, mac, project } = event.data;
      return { ...state, allocations: [...state.allocations, { vmId, nicIndex, ip, mac, project }] };
    }
    case 'NetworkAddressesReleased':
      return { ...state, allocations: state.allocations.filter((a) => a.vmId !== event.data.vmId) };
    case 'NetworkDeleted':
      return { ...state, exists: false, deleted: true };
  }
}
