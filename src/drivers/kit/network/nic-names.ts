import { createHash } from 'node:crypto';
import { DriverError, type DriverNic } from '../../hypervisor-driver.port.js';

/**
 * Host-side names are derived from ids, never taken from a tenant (the shared contract): a Linux
 * interface name is at most 15 bytes, and `vlbr-` + 8 hex is 13.
 */
function hex8(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}

export function bridgeName(networkId: string): string {
  return `vlbr-${hex8(networkId)}`;
}

export function vxlanName(networkId: string): string {
  return `vlvx-${hex8(networkId)}`;
}

export function tapName(vmId: string, index: number): string {
  return `vltap-${hex8(`${vmId}${index}`)}`;
}

/** The host end of a container NIC's veth pair (the peer is renamed eth<index> inside). */
export function vethHostName(vmId: string, index: number): string {
  return `vlvh-${hex8(`${vmId}${index}`)}`;
}

export function vethPeerName(vmId: string, index: number): string {
  return `vlvc-${hex8(`${vmId}${index}`)}`;
}

/** The nftables table of a network's NAT (one per network, so teardown is one delete). */
export function natTableName(networkId: string): string {
  return `vlnat_${hex8(networkId)}`;
}

/**
 * The gateway's MAC: locally administered, from the network id alone, so every host's bridge
 * answers for the gateway address with the same MAC (a distributed gateway over the overlay).
 */
export function gatewayMac(networkId: string): string {
  const h = createHash('sha256').update(`virtledger-gateway:${networkId}`).digest();
  const bytes = [0x02, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0, h[3] ?? 0, h[4] ?? 0];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The multicast group of a VNI's flooding (239/8 is organisation-local): 239.<vni as three bytes>. */
export function vxlanGroup(vni: number): string {
  return `239.${(vni >> 16) & 0xff}.${(vni >> 8) & 0xff}.${vni & 0xff}`;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function assertIpv4(what: string, value: string): string {
  if (!IPV4.test(value)) throw new DriverError('invalid', `${what}: ${JSON.stringify(value)} is not an IPv4 address`);
  return value;
}

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** The network's base address and netmask from its CIDR: what dnsmasq's dhcp-range takes. */
export function cidrParts(cidr: string): { base: string; prefixLength: number; netmask: string } {
  const [base = '', prefix = ''] = cidr.split('/');
  const prefixLength = Number(prefix);
  return { base, prefixLength, netmask: intToIp(prefixLength === 0 ? 0 : (2 ** 32 - 2 ** (32 - prefixLength)) >>> 0) };
}

function inCidr(ip: string, cidr: string): boolean {
  const { base, prefixLength } = cidrParts(cidr);
  const size = 2 ** (32 - prefixLength);
  return Math.floor(ipToInt(ip) / size) === Math.floor(ipToInt(base) / size);
}

/**
 * A NIC's fields reach argv, an nftables file and dnsmasq's hosts file: each is checked for its
 * exact shape here, whatever the control plane meant to send.
 */
export function assertNic(nic: DriverNic, where: string): DriverNic {
  const bad = (field: string, why: string): never => {
    throw new DriverError('invalid', `${where}.${field}: ${why}`);
  };
  if (typeof nic.networkId !== 'string' || nic.networkId.length === 0 || nic.networkId.length > 200) {
    bad('networkId', 'must be a non-empty id');
  }
  if (typeof nic.mac !== 'string' || !MAC.test(nic.mac)) bad('mac', `${JSON.stringify(nic.mac)} is not a MAC`);
  // A multicast MAC (low bit of the first byte) can never be a NIC's address.
  if ((parseInt(nic.mac.slice(0, 2), 16) & 1) === 1) bad('mac', `${nic.mac} is a multicast address`);
  if (typeof nic.cidr !== 'string') bad('cidr', 'must be a string');
  const { base, prefixLength } = cidrParts(nic.cidr);
  if (!IPV4.test(base) || !Number.isInteger(prefixLength) || prefixLength < 8 || prefixLength > 30) {
    bad('cidr', `${JSON.stringify(nic.cidr)} is not an IPv4 CIDR between /8 and /30`);
  }
  if (ipToInt(base) % 2 ** (32 - prefixLength) !== 0) bad('cidr', `${nic.cidr} has host bits set`);
  if (nic.prefixLength !== prefixLength) bad('prefixLength', `${nic.prefixLength} does not match ${nic.cidr}`);
  for (const field of ['ip', 'gateway'] as const) {
    const value = nic[field];
    if (typeof value !== 'string' || !IPV4.test(value)) bad(field, `${JSON.stringify(value)} is not an IPv4 address`);
    if (!inCidr(value, nic.cidr)) bad(field, `${value} is outside ${nic.cidr}`);
  }
  if (nic.ip === nic.gateway) bad('ip', `${nic.ip} is the gateway`);
  if (typeof nic.nat !== 'boolean') bad('nat', 'must be a boolean');
  if (!Number.isInteger(nic.vni) || nic.vni < 1 || nic.vni > 0xffffff) bad('vni', `${nic.vni} is not a VXLAN id`);
  return nic;
}
