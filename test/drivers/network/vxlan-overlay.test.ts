import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { MigrationEndpoint } from '../../../src/drivers/hypervisor-driver.port.js';
import { bridgeName, tapName, vxlanName } from '../../../src/drivers/kit/network/nic-names.js';
import { GuestConsole, ensureGuest, waitForLog, type GuestImage } from '../qemu/guest-console.js';
import { QemuTestEnv, vmSpec } from '../qemu/qemu-test-env.js';
import { NetnsHost } from './netns-host.js';
import {
  guestPings,
  leftovers,
  linkExists,
  nicOn,
  purgeNetwork,
  run,
  testNetwork,
  waitForLease,
} from './network-test-env.js';

/**
 * Host A is this process's network namespace, host B a fresh one joined by a veth underlay; after
 * the suite, B's host process, every qemu and the network on both sides are gone (dnsmasq would
 * keep B's namespace alive: a failed test's is stopped here by its pid).
 */
function twoHosts(prefix: string) {
  const env = new QemuTestEnv(prefix);
  const hostB = new NetnsHost();
  const consoles: GuestConsole[] = [];
  const state: { guest?: GuestImage; networkId?: string } = {};
  before(() => {
    state.guest = ensureGuest();
    hostB.create();
  });
  after(async () => {
    for (const c of consoles) c.close();
    await hostB.stopHost();
    await env.cleanup();
    if (state.networkId) {
      purgeNetwork(state.networkId);
      purgeNetwork(state.networkId, hostB.netns);
    }
    hostB.destroy();
  });
  return {
    env,
    hostB,
    consoles,
    /** The test guest (built in before()). */
    guest: (): GuestImage => {
      if (!state.guest) throw new Error('the guest is built in before()');
      return state.guest;
    },
    /** The network the test made, purged after it on both hosts. */
    used: (id: string) => (state.networkId = id),
  };
}

/**
 * Two hosts sharing one network over a VXLAN overlay: host A is this process's network namespace,
 * host B a driver process in its own namespace joined to A by a veth underlay the test made. A
 * guest on A pings a guest on B through the overlay; B's guest then live-migrates to A keeping
 * its MAC and IP, and B, left without NICs on the network, tears it down.
 */
describe('VXLAN overlay between two hosts', () => {
  const { env, hostB, consoles, guest, used } = twoHosts('vl-vx-');

  test('a VM on A pings a VM on B; B live-migrates its VM to A with MAC and IP; B tears down', async () => {
    const net = testNetwork(false);
    used(net.id);
    const bridge = bridgeName(net.id);
    const previous = process.env.NETWORK_UNDERLAY_DEV;
    process.env.NETWORK_UNDERLAY_DEV = hostB.outerDev;
    const a = env.driver('vx-a', { params: { images: guest().imagesDir, migrationHost: hostB.outerIp } });
    if (previous === undefined) delete process.env.NETWORK_UNDERLAY_DEV;
    else process.env.NETWORK_UNDERLAY_DEV = previous;
    const query = new URLSearchParams({ accel: 'tcg', images: guest().imagesDir, migrationHost: hostB.innerIp });
    await hostB.boot({ id: 'vx-b', uri: `qemu:///system?${query}`, storageDir: join(env.root, 'storage-vx-b') });

    const onA = vmSpec({ memoryMiB: 128, image: guest().image, nics: [nicOn(net, 40)] });
    const onB = vmSpec({ memoryMiB: 128, image: guest().image, nics: [nicOn(net, 41)] });
    await a.define(onA);
    await hostB.define(onB);
    await Promise.all([a.start(onA), hostB.start(onB)]);

    assert.ok(linkExists(vxlanName(net.id)), 'A has the overlay port');
    assert.ok(linkExists(vxlanName(net.id), hostB.netns), 'B has the overlay port');
    assert.ok(linkExists(tapName(onB.id, 0), hostB.netns), "B's tap is in B's namespace");
    assert.equal(linkExists(tapName(onB.id, 0)), false, "and not in A's");
    const vx = JSON.parse(run('ip', ['-d', '-j', 'link', 'show', 'dev', vxlanName(net.id)])) as {
      linkinfo: { info_data: { id: number; link?: string } };
    }[];
    assert.equal(vx[0]?.linkinfo.info_data.id, net.vni);

    const pathsA = a.domainPaths(onA.id);
    const pathsB = await hostB.call<{ serialLog: string; serialSocket: string }>('domainPaths', onB.id);
    await Promise.all([
      waitForLog(pathsA.serialLog, 'GUEST-READY', 120_000),
      waitForLog(pathsB.serialLog, 'GUEST-READY', 120_000),
    ]);
    const consoleA = await GuestConsole.connect(pathsA.serialSocket);
    const consoleB = await GuestConsole.connect(pathsB.serialSocket);
    consoles.push(consoleA, consoleB);
    // Each host's dnsmasq knows only its own VMs' MACs: B's guest got its lease from B.
    assert.match(await waitForLease(consoleA), new RegExp(`^${net.prefix}\\.40/24`));
    assert.match(await waitForLease(consoleB), new RegExp(`^${net.prefix}\\.41/24`));
    const hostsA = readFileSync(join(stateRoot(), bridge, 'hosts'), 'utf8');
    assert.ok(hostsA.includes(onA.nics?.[0]?.mac ?? 'x'), "A's DHCP answers for A's NIC");
    assert.equal(hostsA.includes(onB.nics?.[0]?.mac ?? 'x'), false, "and not for B's, which B answers");
    const mtu = await consoleB.run('cat /sys/class/net/eth0/mtu');
    assert.equal(mtu, '1450', 'the overlay MTU reaches the guest through DHCP');
    assert.ok(await guestPings(consoleA, `${net.prefix}.41`), 'A reaches B over the VXLAN overlay');
    assert.ok(await guestPings(consoleB, `${net.prefix}.40`), 'and B reaches A');

    // Live migration B -> A over the underlay: the NIC keeps its MAC and IP.
    await consoleB.run('echo moved > /tmp/mark');
    consoleB.close();
    const endpoint = await a.prepareIncoming(onB, { live: true });
    await hostB.call('migrate', onB, endpoint satisfies MigrationEndpoint, { live: true });
    await a.finishIncoming(onB, { live: true });
    const moved = await GuestConsole.connect(a.domainPaths(onB.id).serialSocket);
    consoles.push(moved);
    assert.equal(await moved.run('cat /tmp/mark'), 'moved');
    assert.match(await moved.run('cat /sys/class/net/eth0/address'), new RegExp(onB.nics?.[0]?.mac ?? 'x'));
    assert.ok((await moved.run('ip -4 -o addr show dev eth0')).includes(`${net.prefix}.41/24`));
    assert.ok(await guestPings(consoleA, `${net.prefix}.41`), 'the migrated guest answers at the same address');
    assert.ok(linkExists(tapName(onB.id, 0)), 'its tap is on A now');
    assert.deepEqual(leftovers(net.id, hostB.netns), [], 'B had no NIC left on the network and tore it down');
    const hostsOnA = readFileSync(join(stateRoot(), bridge, 'hosts'), 'utf8');
    assert.ok(hostsOnA.includes(onB.nics?.[0]?.mac ?? 'x'), "A's DHCP now answers for the migrated NIC");

    await a.destroy(onA);
    await a.destroy(onB);
    assert.deepEqual(leftovers(net.id), []);
  });
});

/**
 * The same overlay on an underlay without multicast: each host lists the other's underlay
 * address (NETWORK_VXLAN_PEERS) and floods to it with an all-zero FDB entry.
 */
describe('VXLAN overlay with unicast peers', () => {
  const { env, hostB, consoles, guest, used } = twoHosts('vl-vxu-');

  test('a VM on A pings a VM on B with flooding to listed peers', async () => {
    const net = testNetwork(false);
    used(net.id);
    const saved = { dev: process.env.NETWORK_UNDERLAY_DEV, peers: process.env.NETWORK_VXLAN_PEERS };
    process.env.NETWORK_UNDERLAY_DEV = hostB.outerDev;
    process.env.NETWORK_VXLAN_PEERS = hostB.innerIp;
    const a = env.driver('vxu-a', { params: { images: guest().imagesDir } });
    restoreEnv('NETWORK_UNDERLAY_DEV', saved.dev);
    restoreEnv('NETWORK_VXLAN_PEERS', saved.peers);
    const query = new URLSearchParams({ accel: 'tcg', images: guest().imagesDir });
    const storageDir = join(env.root, 'storage-vxu-b');
    await hostB.boot(
      { id: 'vxu-b', uri: `qemu:///system?${query}`, storageDir },
      { NETWORK_VXLAN_PEERS: hostB.outerIp },
    );

    const onA = vmSpec({ memoryMiB: 128, image: guest().image, nics: [nicOn(net, 60)] });
    const onB = vmSpec({ memoryMiB: 128, image: guest().image, nics: [nicOn(net, 61)] });
    await a.define(onA);
    await hostB.define(onB);
    await Promise.all([a.start(onA), hostB.start(onB)]);
    const fdb = run('bridge', ['fdb', 'show', 'dev', vxlanName(net.id)]);
    assert.ok(fdb.includes(`00:00:00:00:00:00 dst ${hostB.innerIp}`), fdb);
    const vx = JSON.parse(run('ip', ['-d', '-j', 'link', 'show', 'dev', vxlanName(net.id)])) as {
      linkinfo: { info_data: { group?: string } };
    }[];
    assert.equal(vx[0]?.linkinfo.info_data.group, undefined, 'no multicast group in unicast mode');

    const pathsB = await hostB.call<{ serialLog: string; serialSocket: string }>('domainPaths', onB.id);
    await Promise.all([
      waitForLog(a.domainPaths(onA.id).serialLog, 'GUEST-READY', 120_000),
      waitForLog(pathsB.serialLog, 'GUEST-READY', 120_000),
    ]);
    const consoleA = await GuestConsole.connect(a.domainPaths(onA.id).serialSocket);
    const consoleB = await GuestConsole.connect(pathsB.serialSocket);
    consoles.push(consoleA, consoleB);
    await waitForLease(consoleA);
    assert.match(await waitForLease(consoleB), new RegExp(`^${net.prefix}\\.61/24`));
    assert.ok(await guestPings(consoleA, `${net.prefix}.61`), 'A reaches B through the unicast overlay');

    await hostB.call('destroy', onB);
    await a.destroy(onA);
    assert.deepEqual(leftovers(net.id), []);
    assert.deepEqual(leftovers(net.id, hostB.netns), []);
  });
});

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/** This namespace's network state dir (HostNetworks' default). */
function stateRoot(): string {
  const ino = Number(run('stat', ['-L', '-c', '%i', '/proc/self/ns/net']).trim());
  return join(process.env.NETWORK_STATE_DIR ?? '/run/virtledger/net', `ns-${ino}`);
}
