import { parseCidr, vmAddressRange } from '../../domain/network/ipv4.js';
import type { NetworkRecord } from '../../projections/read-model.types.js';
import { mayUse } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';

export interface NetworkAllocationView {
  vmId: string;
  nicIndex: number;
  ip: string;
  mac: string;
}

export interface NetworkView {
  id: string;
  name: string;
  cidr: string;
  prefixLength: number;
  gateway: string;
  nat: boolean;
  vni: number;
  /** Addresses VMs can get (usable ones but the gateway). */
  size: number;
  /** Of those, how many are not allocated. */
  free: number;
  /** The caller's projects' NICs on the network (every one for an all-projects caller). */
  allocations: NetworkAllocationView[];
  revision: number;
  createdAt: string;
  updatedAt: string;
}

/** Networks are shared; which VM holds which address is a tenant's own business, so others' are left out. */
export function toNetworkView(rec: NetworkRecord, p: Principal): NetworkView {
  const s = rec.state;
  const parsed = parseCidr(s.cidr);
  const size = parsed.ok ? vmAddressRange(parsed.value).count : 0;
  return {
    id: s.id ?? '',
    name: s.name,
    cidr: s.cidr,
    prefixLength: s.prefixLength,
    gateway: s.gateway,
    nat: s.nat,
    vni: s.vni,
    size,
    free: size - s.allocations.length,
    allocations: s.allocations
      .filter((a) => mayUse(p, a.project))
      .map(({ vmId, nicIndex, ip, mac }) => ({ vmId, nicIndex, ip, mac })),
    revision: Number(rec.revision),
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
  };
}
