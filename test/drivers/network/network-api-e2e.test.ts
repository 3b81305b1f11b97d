import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
import { vmPaths } from '../../../src/drivers/kit/vm-files.js';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { tempDir } from '../../support/env.js';
import { putImage } from '../../support/image-files.js';
import { removeHostCgroups } from '../container/container-test-env.js';
import { GuestConsole, ensureGuest, waitForLog } from '../qemu/guest-console.js';
import { guestPings, leftovers, purgeNetwork, waitForLease } from './network-test-env.js';

describe('issue 15: two qemu VMs and a container on one network, through the API', () => {
  let t: TestApp;
  const storage = tempDir('vl-e2e-net-q-');
  const cstorage = tempDir('vl-e2e-net-c-');
  const curi = `container:///?storage=${cstorage.dir}`;
  const consoles: GuestConsole[] = [];
  let networkId = '';
  before(async () => {
    t = await startTestApp();
    const q = await t.as('admin').post('/v1/hosts', {
      id: 'e2e-q',
      name: 'e2e-q',
      driver: 'qemu',
      uri: `qemu:///system?storage=${storage.dir}&stopTimeoutMs=2000&accel=tcg`,
      capacity: { vcpus: 8, memoryMiB: 4096 },
    });
    assert.equal(q.status, 201, JSON.stringify(q.body));
    const c = await t.as('admin').post('/v1/hosts', {
      id: 'e2e-c',
      name: 'e2e-c',
      driver: 'container',
      uri: curi,
      capacity: { vcpus: 4, memoryMiB: 1024 },
    });
    assert.equal(c.status, 201, JSON.stringify(c.body));
  });
  after(async () => {
    for (const c of consoles) c.close();
    await t?.close();
    const d = new ContainerDriver({ id: 'e2e-c', driver: 'container', uri: curi, storageDir: cstorage.dir });
    for (const dom of await d.listDomains()) {
      if (dom.managed) await d.destroy({ id: dom.vmId, name: dom.vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    }
    await removeHostCgroups('e2e-c');
    if (networkId) purgeNetwork(networkId);
    storage.cleanup();
    cstorage.cleanup();
  });

  test('addresses by DHCP, pings between them, nothing left after delete', async () => {
    const guest = ensureGuest();
    const bundle = execFileSync('tar', ['-C', guest.dir, '-cz', 'vmlinuz', 'initrd.gz', 'cmdline'], {
      maxBuffer: 512 * 1024 * 1024,
    });
    assert.equal((await putImage(t, 'guest', bundle)).status, 201);
    const net = await t.as('admin').post('/v1/networks', { name: 'e2e', cidr: '10.233.7.0/24', nat: true });
    assert.equal(net.status, 201, JSON.stringify(net.body));
    networkId = net.body.id as string;
    const create = async (body: Record<string, unknown>): Promise<string> => {
      const res = await t.as('operator').post('/v1/vms', { vcpus: 1, diskGiB: 1, nics: [{ networkId }], ...body });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const op = await waitOperation(t, res.body.operationId as string, 120000);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      return res.body.vmId as string;
    };
    const a = await create({ name: 'a', memoryMiB: 128, hostId: 'e2e-q', image: 'guest' });
    const b = await create({ name: 'b', memoryMiB: 128, hostId: 'e2e-q', image: 'guest' });
    const c = await create({ name: 'c', memoryMiB: 64, hostId: 'e2e-c' });
    const ipOf = async (id: string): Promise<string> =>
      ((await t.as('viewer').get(`/v1/vms/${id}`)).body as { nics: { ip: string }[] }).nics[0]?.ip ?? '';
    const [ipA, ipB, ipC] = [await ipOf(a), await ipOf(b), await ipOf(c)];
    const pa = vmPaths(storage.dir, 'e2e-q', a);
    const pb = vmPaths(storage.dir, 'e2e-q', b);
    await waitForLog(pa.serialLog, 'GUEST-READY', 120000);
    await waitForLog(pb.serialLog, 'GUEST-READY', 120000);
    const ca = await GuestConsole.connect(pa.serialSocket);
    const cb = await GuestConsole.connect(pb.serialSocket);
    consoles.push(ca, cb);
    assert.ok((await waitForLease(ca)).startsWith(`${ipA}/24`));
    assert.ok((await waitForLease(cb)).startsWith(`${ipB}/24`));
    assert.ok(await guestPings(ca, ipB), 'a pings b');
    assert.ok(await guestPings(ca, ipC), 'a pings the container');
    console.log(`e2e: a=${ipA} b=${ipB} c=${ipC}`);
    for (const id of [a, b, c]) {
      const del = await t.as('operator').delete(`/v1/vms/${id}`);
      assert.equal(del.status, 202);
      assert.equal((await waitOperation(t, del.body.operationId as string, 60000)).status, 'succeeded');
    }
    assert.deepEqual(leftovers(networkId), []);
  });
});
