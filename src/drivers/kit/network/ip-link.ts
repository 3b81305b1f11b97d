import { DriverError } from '../../hypervisor-driver.port.js';
import { runTool } from '../run-tool.js';

/** iproute2, argv only (no shell): every name here was derived by nic-names.ts. */
const IP_TIMEOUT_MS = 10_000;

export function ip(args: string[]): Promise<string> {
  return runTool('ip', args, { timeoutMs: IP_TIMEOUT_MS });
}

/** `ip` inside the network namespace of a process (a container's init), joined by path. */
export function ipInNetnsOf(pid: number, args: string[]): Promise<string> {
  if (!Number.isSafeInteger(pid) || pid <= 1) throw new DriverError('invalid', `not a process id: ${pid}`);
  return runTool('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'ip', ...args], { timeoutMs: IP_TIMEOUT_MS });
}

export interface LinkInfo {
  ifname: string;
  address?: string;
  mtu?: number;
  master?: string;
  operstate?: string;
  flags?: string[];
}

export async function linkInfo(name: string): Promise<LinkInfo | undefined> {
  try {
    const out = await ip(['-j', 'link', 'show', 'dev', name]);
    const parsed = JSON.parse(out) as LinkInfo[];
    return parsed[0];
  } catch (err) {
    if (err instanceof DriverError && /does not exist|Cannot find device/i.test(err.message)) return undefined;
    throw err;
  }
}

/** Names of every link whose name starts with `prefix` (for teardown checks and tests). */
export async function linksWithPrefix(prefix: string): Promise<string[]> {
  const parsed = JSON.parse(await ip(['-j', 'link', 'show'])) as LinkInfo[];
  return parsed.map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}

export async function deleteLink(name: string): Promise<void> {
  if ((await linkInfo(name)) === undefined) return;
  try {
    await ip(['link', 'del', 'dev', name]);
  } catch (err) {
    // Gone in between (a veth whose peer's namespace died takes its host end along).
    if ((await linkInfo(name)) !== undefined) throw err;
  }
}

/**
 * The network's bridge: fixed MAC (the distributed gateway's), the gateway address, up. Each
 * step is a "make it so" that a second run finds done.
 */
export async function ensureBridge(name: string, mac: string, address: string): Promise<void> {
  let link = await linkInfo(name);
  if (!link) {
    try {
      await ip(['link', 'add', 'name', name, 'address', mac, 'type', 'bridge', 'stp_state', '0']);
    } catch (err) {
      if ((await linkInfo(name)) === undefined) throw err; // made by a racing worker of another host is fine
    }
    link = await linkInfo(name);
  }
  if (link?.address !== mac) await ip(['link', 'set', 'dev', name, 'address', mac]);
  await ip(['addr', 'replace', address, 'dev', name]);
  await ip(['link', 'set', 'dev', name, 'up']);
}

/** A port of the bridge (tap, veth end, VXLAN device): enslaved and up. */
export async function enslave(port: string, bridge: string): Promise<void> {
  await ip(['link', 'set', 'dev', port, 'master', bridge]);
  await ip(['link', 'set', 'dev', port, 'up']);
}

/** A persistent tap QEMU opens by name (`-netdev tap,ifname=…,script=no`), on the bridge. */
export async function ensureTap(name: string, bridge: string): Promise<void> {
  if (!(await linkInfo(name))) await ip(['tuntap', 'add', 'dev', name, 'mode', 'tap']);
  await enslave(name, bridge);
}

/**
 * The overlay port: VXLAN `vni` over `underlay`, enslaved to the bridge. Flooding (broadcast,
 * unknown unicast: ARP, DHCP) goes to a multicast group, so no peer list is kept, or, on an
 * underlay without multicast, to each of `peers` (all-zero FDB entries); unicast is learned.
 */
export async function ensureVxlan(
  name: string,
  o: { vni: number; group: string; underlay: string; bridge: string; peers: string[] },
): Promise<void> {
  const link = await linkInfo(name);
  if (!link) {
    const flood = o.peers.length > 0 ? [] : ['group', o.group];
    const id = String(o.vni);
    await ip([
      'link',
      'add',
      name,
      'type',
      'vxlan',
      'id',
      id,
      'dstport',
      '4789',
      ...flood,
      'dev',
      o.underlay,
      'ttl',
      '8',
    ]);
  }
  for (const peer of o.peers) {
    await runTool('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', name, 'dst', peer], {
      timeoutMs: IP_TIMEOUT_MS,
    }).catch((err: unknown) => {
      if (!(err instanceof DriverError && /exists/i.test(err.message))) throw err;
    });
  }
  await enslave(name, o.bridge);
}

export async function linkMtu(name: string): Promise<number | undefined> {
  return (await linkInfo(name))?.mtu;
}
