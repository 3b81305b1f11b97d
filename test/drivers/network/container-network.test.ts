import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { vethHostName } from '../../../src/drivers/kit/network/nic-names.js';
import {
  ContainerTestEnv,
  containerSkipReason,
  inside,
  vmSpec as containerSpec,
} from '../container/container-test-env.js';
import { GuestConsole, ensureGuest, waitForLog, type GuestImage } from '../qemu/guest-console.js';
import { QemuTestEnv, vmSpec } from '../qemu/qemu-test-env.js';
import {
  guestPings,
  leftovers,
  linkExists,
  nicOn,
  purgeNetwork,
  testNetwork,
  waitForLease,
} from './network-test-env.js';

const skip = containerSkipReason();

/**
 * A runc container and a QEMU guest on one network of one host: the container's veth peer sits
 * in its own network namespace with the allocated address, and the guest reaches it.
 */
describe('container driver: a veth on a network, reachable from a VM', { skip }, () => {
  const containers = new ContainerTestEnv('vl-ctnet-');
  const vms = new QemuTestEnv('vl-ctnet-q-');
  const consoles: GuestConsole[] = [];
  const networks: string[] = [];
  let guest: GuestImage;
  before(() => {
    guest = ensureGuest();
  });
  after(async () => {
    for (const c of consoles) c.close();
    await vms.cleanup();
    await containers.cleanup();
    for (const id of networks) purgeNetwork(id);
  });

  test('the container has its address and route; the VM pings it; destroy leaves nothing', async () => {
    const net = testNetwork(false);
    networks.push(net.id);
    const ctHost = containers.driver(containers.hostId('ctnet'));
    const vmHost = vms.driver('ctnet-q', { params: { images: guest.imagesDir } });
    const ct = containerSpec({ nics: [nicOn(net, 30)] });
    const vm = vmSpec({ memoryMiB: 128, image: guest.image, nics: [nicOn(net, 31)] });
    await ctHost.define(ct);
    await vmHost.define(vm);
    await ctHost.start(ct);
    await vmHost.start(vm);

    const pid = ctHost.initPid(ct.id);
    assert.ok(pid !== undefined);
    assert.ok(linkExists(vethHostName(ct.id, 0)), 'the host end of the veth is on the host');
    const addr = inside(pid, 'ip -4 -o addr show dev eth0');
    assert.ok(addr.includes(`${net.prefix}.30/24`), addr);
    assert.match(inside(pid, 'cat /sys/class/net/eth0/address'), new RegExp(ct.nics?.[0]?.mac ?? 'x'));
    assert.ok(inside(pid, 'ip route').includes(`default via ${net.prefix}.1 dev eth0`));

    await waitForLog(vmHost.domainPaths(vm.id).serialLog, 'GUEST-READY', 120_000);
    const onVm = await GuestConsole.connect(vmHost.domainPaths(vm.id).serialSocket);
    consoles.push(onVm);
    await waitForLease(onVm);
    assert.ok(await guestPings(onVm, `${net.prefix}.30`), 'the VM reaches the container');

    // A reboot makes a new network namespace: the NIC follows it.
    await ctHost.reboot(ct);
    const pid2 = ctHost.initPid(ct.id);
    assert.ok(pid2 !== undefined && pid2 !== pid);
    assert.ok(inside(pid2, 'ip -4 -o addr show dev eth0').includes(`${net.prefix}.30/24`));
    assert.ok(await guestPings(onVm, `${net.prefix}.30`), 'still reachable after the reboot');

    await ctHost.destroy(ct);
    assert.equal(linkExists(vethHostName(ct.id, 0)), false);
    await vmHost.destroy(vm);
    assert.deepEqual(leftovers(net.id), []);
  });
});
