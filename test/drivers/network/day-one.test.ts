/**
 * Issue 15's end-to-end run, every part real and reached only through the HTTP API as a user
 * would: the test guest uploaded to the image catalog; a network; two qemu VMs (TCG) and a runc
 * container on it, addressed by DHCP; the serial console of one VM opened as a WebSocket by an
 * operator, in which the guest pings the other VM and the container; a volume hot-plugged into
 * that running VM, seen in its /proc/partitions, written, carried by a live migration to a second
 * qemu host with its data and the VM's MAC and address; its delete refused while attached; detached
 * and deleted; then every VM deleted with nothing left of the network on the machine.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
import { startTestApp, TOKENS, waitOperation, type TestApp } from '../../support/app.js';
import { ConsoleClient } from '../../support/console-client.js';
import { waitUntil } from '../../support/e2e.js';
import { tempDir } from '../../support/env.js';
import { putImage } from '../../support/image-files.js';
import { attachOk, createVolume, detachOk, volumeOp } from '../../support/volumes.js';
import { containerSkipReason, removeHostCgroups } from '../container/container-test-env.js';
import { ensureGuest } from '../qemu/guest-console.js';
import { leftovers, purgeNetwork } from './network-test-env.js';

const skip =
  spawnSync('qemu-system-x86_64', ['--version']).status !== 0
    ? 'qemu-system-x86_64 not installed'
    : (containerSkipReason() ?? false);

/**
 * Runs `cmd` in the guest's shell through the API console and returns what it printed. The
 * markers are arithmetic the shell expands, so the echo of the typed line never matches them.
 */
async function shell(c: ConsoleClient, cmd: string, timeoutMs = 60_000): Promise<string> {
  const k = randomInt(1_000_000, 9_000_000);
  const from = c.output.length;
  c.type(`echo "<<$((${k}+1))"; ${cmd}; echo ">>$((${k}+1))"\n`);
  await c.waitForOutput(`>>${k + 1}`, timeoutMs);
  const out = c.output.slice(from);
  const start = out.indexOf(`<<${k + 1}`);
  const end = out.indexOf(`>>${k + 1}`);
  return out
    .slice(start + `<<${k + 1}`.length, end)
    .replace(/\r/g, '')
    .trim();
}

describe('issue 15 end to end: image, network, consoles, volume, live migration (real QEMU and runc)', { skip }, () => {
  let t: TestApp;
  let port = 0;
  const storage = { a: tempDir('vl-day1-a-'), b: tempDir('vl-day1-b-'), c: tempDir('vl-day1-c-') };
  const curi = `container:///?storage=${storage.c.dir}`;
  const consoles: ConsoleClient[] = [];
  const vms: string[] = [];
  let networkId = '';

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    for (const k of ['a', 'b'] as const) {
      const res = await t.as('admin').post('/v1/hosts', {
        id: `day1-${k}`,
        name: `day1-${k}`,
        driver: 'qemu',
        uri: `qemu:///system?storage=${storage[k].dir}&stopTimeoutMs=2000&accel=tcg`,
        capacity: { vcpus: 8, memoryMiB: 4096, diskGiB: 50 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const c = await t.as('admin').post('/v1/hosts', {
      id: 'day1-c',
      name: 'day1-c',
      driver: 'container',
      uri: curi,
      capacity: { vcpus: 4, memoryMiB: 1024 },
    });
    assert.equal(c.status, 201, JSON.stringify(c.body));
  });

  after(async () => {
    for (const c of consoles) await c.close().catch(() => undefined);
    for (const vmId of vms) {
      const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
      if (del.status === 202) await waitOperation(t, del.body.operationId as string, 60000).catch(() => undefined);
    }
    await t?.close();
    const d = new ContainerDriver({ id: 'day1-c', driver: 'container', uri: curi, storageDir: storage.c.dir });
    for (const dom of await d.listDomains()) {
      if (dom.managed) await d.destroy({ id: dom.vmId, name: dom.vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    }
    await removeHostCgroups('day1-c');
    if (networkId) purgeNetwork(networkId);
    for (const s of Object.values(storage)) s.cleanup();
  });

  const create = async (body: Record<string, unknown>): Promise<string> => {
    const res = await t.as('operator').post('/v1/vms', { vcpus: 1, diskGiB: 1, nics: [{ networkId }], ...body });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    vms.push(res.body.vmId as string);
    const op = await waitOperation(t, res.body.operationId as string, 180_000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    return res.body.vmId as string;
  };
  const view = async (id: string) => (await t.as('viewer').get(`/v1/vms/${id}`)).body as Record<string, unknown>;
  const nicOf = async (id: string) => ((await view(id)).nics as { ip: string; mac: string }[])[0]!;
  /** Booted (its console log says so), then an operator's console on it. */
  const consoleOf = async (id: string): Promise<ConsoleClient> => {
    await waitUntil(
      `${id} to print GUEST-READY`,
      async () => {
        const log = await t.as('viewer').get(`/v1/vms/${id}/console/log?tail=200`);
        return log.status === 200 && (log.body.lines as string[]).some((l) => l.includes('GUEST-READY'));
      },
      180_000,
    );
    const c = await ConsoleClient.open(port, id, { token: TOKENS.operator });
    consoles.push(c);
    return c;
  };
  const leaseOf = (c: ConsoleClient) =>
    shell(c, 'while [ ! -s /run/dhcp.eth0 ]; do sleep 1; done; cat /run/dhcp.eth0', 120_000);
  const pings = async (c: ConsoleClient, ip: string) =>
    (await shell(c, `ping -c 3 -W 2 ${ip} >/dev/null 2>&1 && echo PING-OK || echo PING-FAIL`, 60_000)).endsWith(
      'PING-OK',
    );

  test('upload, network, DHCP, pings through the API console, a hot-plugged volume across a live migration', async () => {
    const guest = ensureGuest();
    const bundle = execFileSync('tar', ['-C', guest.dir, '-cz', 'vmlinuz', 'initrd.gz', 'cmdline'], {
      maxBuffer: 512 * 1024 * 1024,
    });
    const up = await putImage(t, 'guest', bundle);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const net = await t.as('admin').post('/v1/networks', { name: 'day1', cidr: '10.233.9.0/24', nat: false });
    assert.equal(net.status, 201, JSON.stringify(net.body));
    networkId = net.body.id as string;

    const a = await create({ name: 'a', memoryMiB: 128, hostId: 'day1-a', image: 'guest' });
    const b = await create({ name: 'b', memoryMiB: 128, hostId: 'day1-a', image: 'guest' });
    const c = await create({ name: 'c', memoryMiB: 64, hostId: 'day1-c' });
    const [nicA, nicB, nicC] = [await nicOf(a), await nicOf(b), await nicOf(c)];
    assert.equal(new Set([nicA.ip, nicB.ip, nicC.ip]).size, 3, 'three addresses');

    const ca = await consoleOf(a);
    const cb = await consoleOf(b);
    assert.ok((await leaseOf(ca)).startsWith(`${nicA.ip}/24`), 'a got its address by DHCP');
    assert.ok((await leaseOf(cb)).startsWith(`${nicB.ip}/24`), 'b got its address by DHCP');
    assert.ok(await pings(ca, nicB.ip), 'a pings b');
    assert.ok(await pings(ca, nicC.ip), 'a pings the container');

    // A volume, hot-plugged into a running VM: a new 2 GiB disk in the guest.
    const volumeId = await createVolume(t, { name: 'data', sizeGiB: 2, hostId: 'day1-a' });
    const before = await shell(ca, "awk '$3 == 2097152 { print $4 }' /proc/partitions");
    assert.equal(before, '', 'no 2 GiB disk before the attach (the VM disk is 1 GiB)');
    await attachOk(t, a, volumeId);
    const dev = await waitUntil('the volume in /proc/partitions', async () => {
      const d = await shell(ca, "awk '$3 == 2097152 { print $4 }' /proc/partitions");
      return /^vd[a-z]$/.test(d) ? d : undefined;
    });
    await shell(ca, `echo day-one-data > /dev/${dev}; sync`);
    const refused = await t.as('operator').delete(`/v1/volumes/${volumeId}`);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));

    // Live migration to the second qemu host: the console session ends with the VM's move; a new one
    // finds the volume, its data, and the VM's own MAC and address.
    const mig = await t.as('operator').post(`/v1/vms/${a}/migrations`, { targetHostId: 'day1-b', live: true });
    assert.equal(mig.status, 202, JSON.stringify(mig.body));
    const op = await waitOperation(t, mig.body.operationId as string, 300_000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    assert.equal((await view(a)).hostId, 'day1-b');
    assert.deepEqual(await nicOf(a), nicA, 'MAC and address kept');
    const ca2 = await ConsoleClient.open(port, a, { token: TOKENS.operator });
    consoles.push(ca2);
    assert.equal(await shell(ca2, `head -c 12 /dev/${dev}`), 'day-one-data');
    assert.ok(await pings(ca2, nicB.ip), 'a still pings b from its new host');

    await detachOk(t, a, volumeId);
    await waitUntil('the volume gone from the guest', async () =>
      (await shell(ca2, "awk '$3 == 2097152 { print $4 }' /proc/partitions")) === '' ? true : undefined,
    );
    const deleted = await volumeOp(t, 'delete', `/v1/volumes/${volumeId}`);
    assert.equal(deleted.operation.status, 'succeeded', JSON.stringify(deleted.operation));

    for (const id of [a, b, c]) {
      const del = await t.as('operator').delete(`/v1/vms/${id}`);
      assert.equal(del.status, 202);
      assert.equal((await waitOperation(t, del.body.operationId as string, 60_000)).status, 'succeeded');
    }
    vms.length = 0;
    assert.deepEqual(leftovers(networkId), [], 'no bridge, tap, dnsmasq or nft table left');
  });
});
