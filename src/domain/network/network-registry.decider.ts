import type { Decider } from '../decider.js';
import { DomainError } from '../domain-error.js';
import { cidrsOverlap, parseCidr } from './ipv4.js';
import type { NetworkRegistryCommand } from './network.commands.js';
import type { NetworkRegistryEvent } from './network.events.js';

/** VNIs handed out start here (low ones are left for what an operator sets up by hand). */
export const VNI_BASE = 1000;
/** VXLAN's identifier is 24 bits. */
export const VNI_MAX = 0xffffff;

export interface RegisteredNetwork {
  name: string;
  cidr: string;
  vni: number;
}

/** Live networks by id: what new names, CIDRs and VNIs must not collide with. */
export interface NetworkRegistryState {
  live: Record<string, RegisteredNetwork>;
}

export function initialRegistryState(): NetworkRegistryState {
  return { live: {} };
}

export function evolveRegistry(state: NetworkRegistryState, event: NetworkRegistryEvent): NetworkRegistryState {
  switch (event.type) {
    case 'NetworkRegistered': {
      const { networkId, name, cidr, vni } = event.data;
      return { live: { ...state.live, [networkId]: { name, cidr, vni } } };
    }
    case 'NetworkUnregistered': {
      const live = { ...state.live };
      delete live[event.data.networkId];
      return { live };
    }
  }
}

function freeVni(state: NetworkRegistryState): number {
  const used = new Set(Object.values(state.live).map((n) => n.vni));
  for (let vni = VNI_BASE; vni <= VNI_MAX; vni++) if (!used.has(vni)) return vni;
  throw new DomainError('capacity', 'no VXLAN network identifier is left');
}

export function decideRegistry(cmd: NetworkRegistryCommand, state: NetworkRegistryState): NetworkRegistryEvent[] {
  switch (cmd.type) {
    case 'RegisterNetwork': {
      if (state.live[cmd.networkId]) return [];
      const parsed = parseCidr(cmd.cidr);
      if (!parsed.ok) throw new DomainError('invalid', `cidr ${parsed.problem}`, { field: 'cidr' });
      for (const [id, n] of Object.entries(state.live)) {
        if (n.name === cmd.name)
          throw new DomainError('conflict', `name ${cmd.name} is taken by network ${id}`, {
            field: 'name',
            networkId: id,
          });
        const other = parseCidr(n.cidr);
        if (other.ok && cidrsOverlap(parsed.value, other.value))
          throw new DomainError('conflict', `cidr ${parsed.value.cidr} overlaps network ${n.name} (${id}, ${n.cidr})`, {
            field: 'cidr',
            networkId: id,
          });
      }
      const data = { networkId: cmd.networkId, name: cmd.name, cidr: parsed.value.cidr, vni: freeVni(state) };
      return [{ type: 'NetworkRegistered', data }];
    }
    case 'UnregisterNetwork':
      return state.live[cmd.networkId] ? [{ type: 'NetworkUnregistered', data: { networkId: cmd.networkId } }] : [];
  }
}

export const networkRegistryDecider: Decider<NetworkRegistryCommand, NetworkRegistryEvent, NetworkRegistryState> = {
  initialState: initialRegistryState,
  decide: decideRegistry,
  evolve: evolveRegistry,
};
