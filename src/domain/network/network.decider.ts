import type { Decider } from '../decider.js';
import { DomainError } from '../domain-error.js';
import { formatIpv4, gatewayOf, parseCidr, parseIpv4, vmAddressRange } from './ipv4.js';
import { macFor } from './mac.js';
import type { NetworkCommand } from './network.commands.js';
import type { NetworkEvent } from './network.events.js';
import { evolveNetwork, initialNetworkState, type NetworkState } from './network.state.js';

type Cmd<T extends NetworkCommand['type']> = Extract<NetworkCommand, { type: T }>;

function label(state: NetworkState): string {
  return `network ${state.name} (${state.id})`;
}

function create(cmd: Cmd<'CreateNetwork'>, state: NetworkState): NetworkEvent[] {
  if (state.exists || state.deleted) {
    // The same create again (a retried request) is done already; anything else is another network's id.
    const same = state.exists && state.name === cmd.name && state.cidr === cmd.cidr && state.nat === cmd.nat;
    if (same && state.vni === cmd.vni) return [];
    throw new DomainError('conflict', `network ${cmd.networkId} already exists`);
  }
  const parsed = parseCidr(cmd.cidr);
  if (!parsed.ok) throw new DomainError('invalid', `cidr ${parsed.problem}`, { field: 'cidr' });
  const c = parsed.value;
  return [
    {
      type: 'NetworkCreated',
      data: {
        networkId: cmd.networkId,
        name: cmd.name,
        cidr: c.cidr,
        prefixLength: c.prefixLength,
        gateway: formatIpv4(gatewayOf(c)),
        nat: cmd.nat,
        vni: cmd.vni,
      },
    },
  ];
}

/** The lowest free address, so a released one is handed out again first (predictable for operators). */
function allocate(cmd: Cmd<'AllocateAddress'>, state: NetworkState): NetworkEvent[] {
  if (!state.exists) {
    const why = state.deleted ? `${label(state)} was deleted` : 'network not found';
    throw new DomainError('not_found', why);
  }
  if (state.allocations.some((a) => a.vmId === cmd.vmId && a.nicIndex === cmd.nicIndex)) return [];
  const parsed = parseCidr(state.cidr);
  if (!parsed.ok) throw new DomainError('invalid', `${label(state)} has an invalid cidr ${state.cidr}`);
  const range = vmAddressRange(parsed.value);
  const taken = new Set(state.allocations.map((a) => parseIpv4(a.ip)));
  let ip: number | undefined;
  for (let n = range.first; n <= range.last; n++)
    if (!taken.has(n)) {
      ip = n;
      break;
    }
  if (ip === undefined)
    throw new DomainError(
      'capacity',
      `${label(state)} is full: all ${range.count} addresses of ${state.cidr} are allocated`,
      { networkId: state.id, cidr: state.cidr, addresses: range.count },
    );
  const mac = macFor(`${state.id}/${cmd.vmId}/${cmd.nicIndex}`, new Set(state.allocations.map((a) => a.mac)));
  return [
    {
      type: 'NetworkAddressAllocated',
      data: { vmId: cmd.vmId, nicIndex: cmd.nicIndex, ip: formatIpv4(ip), mac, project: cmd.project },
    },
  ];
}

export function decideNetwork(cmd: NetworkCommand, state: NetworkState): NetworkEvent[] {
  switch (cmd.type) {
    case 'CreateNetwork':
      return create(cmd, state);
    case 'AllocateAddress':
      return allocate(cmd, state);
    case 'ReleaseAddresses': {
      const ips = state.allocations.filter((a) => a.vmId === cmd.vmId).map((a) => a.ip);
      return ips.length ? [{ type: 'NetworkAddressesReleased', data: { vmId: cmd.vmId, ips } }] : [];
    }
    case 'DeleteNetwork': {
      if (!state.exists) {
        if (state.deleted) return [];
        throw new DomainError('not_found', `network ${cmd.networkId} not found`);
      }
      if (state.allocations.length > 0) {
        const vms = [...new Set(state.allocations.map((a) => a.vmId))];
        const shown = vms.slice(0, 5).join(', ') + (vms.length > 5 ? `, … (${vms.length} in all)` : '');
        throw new DomainError('conflict', `${label(state)} cannot be deleted: VMs use it (${shown})`, {
          usedBy: vms,
        });
      }
      return [{ type: 'NetworkDeleted', data: { networkId: cmd.networkId } }];
    }
  }
}

export const networkDecider: Decider<NetworkCommand, NetworkEvent, NetworkState> = {
  initialState: initialNetworkState,
  decide: decideNetwork,
  evolve: evolveNetwork,
};
