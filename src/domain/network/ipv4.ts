/**
 * IPv4 arithmetic for networks: addresses as unsigned numbers (0 … 2^32-1), kept out of
 * bitwise operators past 2^31 so no sign creeps in. Pure: the decider and the HTTP edge
 * both parse with it, so a CIDR is judged the same way everywhere.
 */

/** Network sizes a tenant network may have: a /16 is 65536 addresses, a /29 the smallest with room for VMs. */
export const MIN_PREFIX = 16;
export const MAX_PREFIX = 29;

export interface Ipv4Cidr {
  /** The network address as a number. */
  network: number;
  prefixLength: number;
  /** Canonical text, e.g. `10.0.0.0/24`. */
  cidr: string;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** A dotted quad of decimal octets without leading zeros (`010` is octal to some tools: refused). */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!OCTET.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export function cidrSize(prefixLength: number): number {
  return 2 ** (32 - prefixLength);
}

/** Ranges no tenant network may take: this-network, loopback, link-local, multicast and reserved. */
const RESERVED: ReadonlyArray<[string, number, number]> = [
  ['0.0.0.0/8', 0, 8],
  ['127.0.0.0/8', 127 * 2 ** 24, 8],
  ['169.254.0.0/16', (169 * 256 + 254) * 2 ** 16, 16],
  ['224.0.0.0/3', 224 * 2 ** 24, 3],
];

/** Parses `a.b.c.d/n` (n in MIN_PREFIX..MAX_PREFIX, host bits zero); a refusal says what is wrong. */
export function parseCidr(text: string): { ok: true; value: Ipv4Cidr } | { ok: false; problem: string } {
  const m = /^([0-9.]{7,15})\/([0-9]{1,2})$/.exec(text);
  const address = m ? parseIpv4(m[1]!) : undefined;
  if (!m || address === undefined) return { ok: false, problem: 'must be an IPv4 CIDR like 10.20.0.0/24' };
  const prefixLength = Number(m[2]);
  if (prefixLength < MIN_PREFIX || prefixLength > MAX_PREFIX)
    return {
      ok: false,
      problem: `must have a prefix length from /${MIN_PREFIX} to /${MAX_PREFIX}, not /${prefixLength}`,
    };
  const size = cidrSize(prefixLength);
  const network = address - (address % size);
  if (network !== address)
    return {
      ok: false,
      problem: `has host bits set: ${text} is inside ${formatIpv4(network)}/${prefixLength}; give the network address`,
    };
  for (const [name, start, prefix] of RESERVED)
    if (overlaps(network, prefixLength, start, prefix)) return { ok: false, problem: `is inside reserved ${name}` };
  return { ok: true, value: { network, prefixLength, cidr: `${formatIpv4(network)}/${prefixLength}` } };
}

function overlaps(a: number, aPrefix: number, b: number, bPrefix: number): boolean {
  // Two CIDR blocks overlap exactly when the larger one contains the other's start.
  const size = cidrSize(Math.min(aPrefix, bPrefix));
  return Math.floor(a / size) === Math.floor(b / size);
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  return overlaps(a.network, a.prefixLength, b.network, b.prefixLength);
}

/** The gateway (the host's bridge address) is the first usable address. */
export function gatewayOf(c: Ipv4Cidr): number {
  return c.network + 1;
}

/** Addresses VMs can get: every usable one but the gateway (network and broadcast excluded). */
export function vmAddressRange(c: Ipv4Cidr): { first: number; last: number; count: number } {
  const first = c.network + 2;
  const last = c.network + cidrSize(c.prefixLength) - 2;
  return { first, last, count: last - first + 1 };
}
