/**
 * MAC addresses for NICs: QEMU's locally administered prefix 52:54:00 and three bytes from a
 * hash of what the NIC is (network, VM, index), so the same NIC decided again gets the same
 * MAC; when that one is taken on the network, the next free one.
 */
export const MAC_PREFIX = '52:54:00';

/** FNV-1a, 32 bits: small, pure, deterministic (the domain has no crypto module). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function format(n: number): string {
  const bytes = [16, 8, 0].map((s) => ((n >>> s) & 0xff).toString(16).padStart(2, '0'));
  return `${MAC_PREFIX}:${bytes.join(':')}`;
}

/** The MAC for `seed`, unique among `taken` (there are 2^24 of them: a network never fills them). */
export function macFor(seed: string, taken: ReadonlySet<string>): string {
  let n = fnv1a(seed) & 0xffffff;
  for (let i = 0; i < 0x1000000; i++) {
    const mac = format(n);
    if (!taken.has(mac)) return mac;
    n = (n + 1) & 0xffffff;
  }
  throw new Error('no MAC address left');
}
