import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LibvirtDriver } from '../../../src/drivers/libvirt/libvirt.driver.js';
import { bridgeName } from '../../../src/drivers/kit/network/nic-names.js';
import { GuestConsole, ensureGuest, waitForLog, type GuestImage } from '../qemu/guest-console.js';
import { QemuTestEnv, vmSpec as qemuSpec } from '../qemu/qemu-test-env.js';
import { waitFor } from '../../support/wait.js';
import { guestPings, leftovers, nicOn, purgeNetwork, testNetwork, waitForLease } from '../network/network-test-env.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  LibvirtTestEnv,
  virshSync,
  vmSpec,
  type LibvirtDaemons,
} from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;

/**
 * A libvirt domain with `<interface type='bridge'>` on a virtledger network, next to a qemu-driver
 * guest on the same network: the libvirt guest takes its address from the host's dnsmasq (the
 * qemu guest can only reach it at that address if it did) and answers ping.
 */
describe('libvirt driver: a bridge NIC on a network', { skip, timeout: 600_000 }, () => {
  let daemons: LibvirtDaemons;
  let env: LibvirtTestEnv;
  let d: LibvirtDriver;
  let guest: GuestImage;
  const qemu = new QemuTestEnv('vl-lvnet-q-');
  const consoles: GuestConsole[] = [];
  const networks: string[] = [];

  before(() => {
    daemons = ensureDaemons();
    env = new LibvirtTestEnv('vl-lvnet-');
    guest = ensureGuest();
    // This run's own peer libvirtd (on loopback, so on this machine's bridges): the system one is
    // shared by every libvirt test file and can be slow to answer under their load.
    d = env.driver('lvnet', daemons.peerUri ?? daemons.uri, { images: guest.imagesDir, callTimeoutMs: '240000' });
  });
  after(async () => {
    for (const c of consoles) c.close();
    await qemu.cleanup();
    await env?.cleanup();
    for (const id of networks) purgeNetwork(id);
    daemons?.stop();
  });

  test('the libvirt guest gets its address by DHCP and a qemu guest pings it; destroy leaves nothing', async () => {
    const net = testNetwork(false);
    networks.push(net.id);
    const lv = vmSpec({ image: guest.image, nics: [nicOn(net, 50)] });
    const q = qemuSpec({ memoryMiB: 128, image: guest.image, nics: [nicOn(net, 51)] });
    const qhost = qemu.driver('lvnet-q', { params: { images: guest.imagesDir } });
    await d.define(lv);
    await qhost.define(q);
    await d.start(lv);
    await qhost.start(q);

    const xml = virshSync(d.uri, ['dumpxml', d.domainName(lv.id)]);
    assert.match(xml, new RegExp(`<source bridge='${bridgeName(net.id)}'/>`));
    assert.match(xml, new RegExp(`<mac address='${lv.nics?.[0]?.mac ?? 'x'}'/>`));

    await waitForLog(join(d.files(lv.id).vmDir, 'console.log'), 'GUEST-READY', 120_000);
    await waitForLog(qhost.domainPaths(q.id).serialLog, 'GUEST-READY', 120_000);
    const onQ = await GuestConsole.connect(qhost.domainPaths(q.id).serialSocket);
    consoles.push(onQ);
    await waitForLease(onQ);
    // The libvirt guest's udhcpc runs in its background: wait (bounded) until it answers.
    await waitFor(() => guestPings(onQ, `${net.prefix}.50`, 1), {
      what: 'the qemu guest to reach the libvirt guest at its allocated address',
      timeoutMs: 60_000,
      intervalMs: 500,
    });

    await d.stop(lv, { force: true });
    await d.destroy(lv);
    await qhost.destroy(q);
    assert.deepEqual(leftovers(net.id), []);
  });
});
