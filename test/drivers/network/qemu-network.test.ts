import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bridgeName, tapName } from '../../../src/drivers/kit/network/nic-names.js';
import { GuestConsole, ensureGuest, waitForLog, type GuestImage } from '../qemu/guest-console.js';
import { QemuTestEnv, vmSpec } from '../qemu/qemu-test-env.js';
import { NetnsHost } from './netns-host.js';
import {
  guestPings,
  leftovers,
  linkExists,
  natTableExists,
  nicOn,
  purgeNetwork,
  run,
  testNetwork,
  waitForLease,
} from './network-test-env.js';

/**
 * Real QEMU guests on a virtledger network: taps on the network's bridge, addresses from the
 * host's dnsmasq, and traffic between them; NAT in nftables when the network asks for it; and
 * nothing left on the host once the last NIC is gone.
 */
describe('qemu driver: NICs on a network', () => {
  const env = new QemuTestEnv('vl-qnet-');
  const consoles: GuestConsole[] = [];
  const networks: string[] = [];
  let guest: GuestImage;
  // "The outside world": a namespace behind a veth, with no route back to any VM network, so
  // a guest's packets only come back when NAT rewrote their source to the host's address.
  const outside = new NetnsHost();
  before(() => {
    guest = ensureGuest();
    outside.create();
  });
  after(async () => {
    for (const c of consoles) c.close();
    await env.cleanup();
    for (const id of networks) purgeNetwork(id);
    outside.destroy();
  });

  test('two VMs get their DHCP addresses and ping each other; teardown leaves nothing', async () => {
    const net = testNetwork(true);
    networks.push(net.id);
    const host = env.driver('qnet-a', { params: { images: guest.imagesDir } });
    const a = vmSpec({ memoryMiB: 128, image: guest.image, nics: [nicOn(net, 10)] });
    const b = vmSpec({ memoryMiB: 128, image: guest.image, nics: [nicOn(net, 11)] });
    await host.define(a);
    await host.define(b);
    await Promise.all([host.start(a), host.start(b)]);

    assert.ok(linkExists(bridgeName(net.id)), 'the network has its bridge');
    assert.ok(linkExists(tapName(a.id, 0)) && linkExists(tapName(b.id, 0)), 'one tap per NIC');
    const master = JSON.parse(run('ip', ['-j', 'link', 'show', 'dev', tapName(a.id, 0)])) as { master?: string }[];
    assert.equal(master[0]?.master, bridgeName(net.id));
    assert.ok(natTableExists(net.id), 'nat=true: the masquerade table is loaded');
    const ruleset = run('nft', ['-j', 'list', 'ruleset']);
    assert.match(ruleset, /"masquerade"/);
    assert.ok(ruleset.includes(`"${net.prefix}.0"`), 'the rule matches the network CIDR');

    await Promise.all([a, b].map((s) => waitForLog(host.domainPaths(s.id).serialLog, 'GUEST-READY', 120_000)));
    const onA = await GuestConsole.connect(host.domainPaths(a.id).serialSocket);
    const onB = await GuestConsole.connect(host.domainPaths(b.id).serialSocket);
    consoles.push(onA, onB);
    assert.equal(await waitForLease(onA), `${net.prefix}.10/24 ${net.prefix}.1`);
    assert.equal(await waitForLease(onB), `${net.prefix}.11/24 ${net.prefix}.1`);
    assert.match(await onA.run('cat /sys/class/net/eth0/address'), new RegExp(a.nics?.[0]?.mac ?? 'x'));
    assert.ok(await guestPings(onA, `${net.prefix}.11`), 'A reaches B across the bridge');
    assert.ok(await guestPings(onB, `${net.prefix}.1`), 'B reaches the gateway on the bridge');
    assert.ok(await guestPings(onA, outside.innerIp), 'A reaches an address beyond the host, masqueraded');

    await host.stop(a, { force: true });
    assert.equal(linkExists(tapName(a.id, 0)), false, 'a stopped VM leaves its tap behind no more');
    assert.ok(linkExists(bridgeName(net.id)), 'the network stays while B is on it');
    await host.destroy(b);
    await host.destroy(a);
    assert.deepEqual(leftovers(net.id), []);
  });

  test('nat=false loads no NAT table', async () => {
    const net = testNetwork(false);
    networks.push(net.id);
    const host = env.driver('qnet-b');
    const vm = vmSpec({ nics: [nicOn(net, 20)] });
    await host.define(vm);
    await host.start(vm);
    assert.ok(linkExists(bridgeName(net.id)));
    assert.equal(natTableExists(net.id), false);
    await host.destroy(vm);
    assert.deepEqual(leftovers(net.id), []);
  });
});
