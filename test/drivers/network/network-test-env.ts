import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DriverNic } from '../../../src/drivers/hypervisor-driver.port.js';
import { bridgeName, natTableName, vxlanName } from '../../../src/drivers/kit/network/nic-names.js';
import type { GuestConsole } from '../qemu/guest-console.js';
import { waitFor } from '../../support/wait.js';

/** A network as the control plane would hand it to drivers: a unique id and a /24 nobody else uses. */
export interface TestNetwork {
  id: string;
  cidr: string;
  prefix: string;
  vni: number;
  nat: boolean;
}

export function testNetwork(nat = false): TestNetwork {
  const b = randomBytes(3);
  // 10.200-249.x.0/24: unlikely to meet another test's network on this machine.
  const prefix = `10.${200 + ((b[0] ?? 0) % 50)}.${b[1] ?? 0}`;
  return { id: `net-${randomUUID()}`, cidr: `${prefix}.0/24`, prefix, vni: 1 + ((b[2] ?? 0) << 12) + (b[0] ?? 0), nat };
}

/** The NIC with host number `host` (the gateway is .1). */
export function nicOn(net: TestNetwork, host: number): DriverNic {
  const m = randomBytes(3);
  return {
    networkId: net.id,
    mac: `52:54:00:${[...m].map((x) => x.toString(16).padStart(2, '0')).join(':')}`,
    ip: `${net.prefix}.${host}`,
    prefixLength: 24,
    gateway: `${net.prefix}.1`,
    cidr: net.cidr,
    nat: net.nat,
    vni: net.vni,
  };
}

/** Runs a program in this process's network namespace, or in a named one, and returns stdout. */
export function run(file: string, args: string[], netns?: string): string {
  const [f, a] = netns ? ['ip', ['netns', 'exec', netns, file, ...args]] : [file, args];
  return execFileSync(f, a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function linkExists(name: string, netns?: string): boolean {
  try {
    run('ip', ['link', 'show', 'dev', name], netns);
    return true;
  } catch {
    return false;
  }
}

/** Every dnsmasq bound to `bridge` (by its --interface argument) in this or the named network namespace. */
export function dnsmasqPidsFor(bridge: string, netns?: string): number[] {
  const want = statSync(netns ? `/run/netns/${netns}` : '/proc/self/ns/net').ino;
  const out = run('ps', ['-eo', 'pid=,args=']);
  return out
    .split('\n')
    .filter((l) => l.includes('dnsmasq') && l.includes(`--interface=${bridge}`))
    .map((l) => Number(l.trim().split(/\s+/)[0]))
    .filter((pid) => {
      try {
        return statSync(`/proc/${pid}/ns/net`).ino === want;
      } catch {
        return false;
      }
    });
}

export function natTableExists(networkId: string, netns?: string): boolean {
  const json = JSON.parse(run('nft', ['-j', 'list', 'tables'], netns)) as { nftables: { table?: { name: string } }[] };
  return json.nftables.some((e) => e.table?.name === natTableName(networkId));
}

/** What a network leaves on a host: empty once its last NIC has gone. */
export function leftovers(networkId: string, netns?: string): string[] {
  const found: string[] = [];
  const bridge = bridgeName(networkId);
  if (linkExists(bridge, netns)) found.push(bridge);
  if (linkExists(vxlanName(networkId), netns)) found.push(vxlanName(networkId));
  if (dnsmasqPidsFor(bridge, netns).length > 0) found.push(`dnsmasq on ${bridge}`);
  if (natTableExists(networkId, netns)) found.push(`nft table ${natTableName(networkId)}`);
  return found;
}

/** Polls the guest until udhcpc has recorded its lease for `iface`; returns "ip/prefix router". */
export async function waitForLease(guest: GuestConsole, iface = 'eth0', timeoutMs = 60_000): Promise<string> {
  try {
    return await waitFor(() => guest.run(`cat /run/dhcp.${iface} 2>/dev/null`), {
      what: `a DHCP lease on ${iface}`,
      timeoutMs,
      intervalMs: 500,
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}: ${await guest.run('ip addr; ps')}`, { cause: err });
  }
}

/** ping from the guest; true when one of `count` echo requests got its reply. */
export async function guestPings(guest: GuestConsole, ip: string, count = 3): Promise<boolean> {
  const out = await guest.run(`ping -c ${count} -W 2 ${ip} >/dev/null 2>&1 && echo PING-OK || echo PING-FAIL`, 30_000);
  return out.endsWith('PING-OK');
}

/**
 * Best-effort removal of whatever a failed test left of a network in this or the named namespace
 * (a test that passed has nothing left): its dnsmasq by pid, NAT table, ports, overlay, bridge, state.
 */
export function purgeNetwork(networkId: string, netns?: string): void {
  const bridge = bridgeName(networkId);
  for (const pid of dnsmasqPidsFor(bridge, netns)) process.kill(pid, 'SIGKILL');
  const quiet = (f: () => void): void => {
    try {
      f();
    } catch {
      // already gone
    }
  };
  if (natTableExists(networkId, netns))
    quiet(() => run('nft', ['delete', 'table', 'inet', natTableName(networkId)], netns));
  if (linkExists(bridge, netns)) {
    const ports = JSON.parse(run('ip', ['-j', 'link', 'show', 'master', bridge], netns)) as { ifname: string }[];
    for (const p of ports) quiet(() => run('ip', ['link', 'del', p.ifname], netns));
  }
  quiet(() => run('ip', ['link', 'del', vxlanName(networkId)], netns));
  quiet(() => run('ip', ['link', 'del', bridge], netns));
  const ino = statSync(netns ? `/run/netns/${netns}` : '/proc/self/ns/net').ino;
  rmSync(join(process.env.NETWORK_STATE_DIR ?? '/run/virtledger/net', `ns-${ino}`, bridge), {
    recursive: true,
    force: true,
  });
}
