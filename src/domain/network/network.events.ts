import type { DomainEvent } from '../decider.js';

/** A network as created: its addressing (gateway = first usable address) and its VXLAN id. */
export type NetworkCreated = DomainEvent<
  'NetworkCreated',
  {
    networkId: string;
    name: string;
    cidr: string;
    prefixLength: number;
    gateway: string;
    nat: boolean;
    /** VXLAN network identifier, unique among live networks (decided on the registry stream). */
    vni: number;
  }
>;
/** One NIC of a VM got an address (appended before the VM's own VmCreateRequested). */
export type NetworkAddressAllocated = DomainEvent<
  'NetworkAddressAllocated',
  { vmId: string; nicIndex: number; ip: string; mac: string; project: string }
>;
/** Every address a VM held on this network is free again (the VM was deleted, or its create refused). */
export type NetworkAddressesReleased = DomainEvent<'NetworkAddressesReleased', { vmId: string; ips: string[] }>;
export type NetworkDeleted = DomainEvent<'NetworkDeleted', { networkId: string }>;

export type NetworkEvent = NetworkCreated | NetworkAddressAllocated | NetworkAddressesReleased | NetworkDeleted;

export const NETWORK_EVENT_TYPES: readonly NetworkEvent['type'][] = [
  'NetworkCreated',
  'NetworkAddressAllocated',
  'NetworkAddressesReleased',
  'NetworkDeleted',
];

export function isNetworkEventType(type: string): type is NetworkEvent['type'] {
  return (NETWORK_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * The registry: one stream over every network, so that names, CIDRs and VNIs of live networks
 * never collide even when two creates race (the second re-decides against the first's claim).
 */
export type NetworkRegistered = DomainEvent<
  'NetworkRegistered',
  { networkId: string; name: string; cidr: string; vni: number }
>;
export type NetworkUnregistered = DomainEvent<'NetworkUnregistered', { networkId: string }>;
export type NetworkRegistryEvent = NetworkRegistered | NetworkUnregistered;
