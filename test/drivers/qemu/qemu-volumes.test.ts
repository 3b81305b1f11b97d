/**
 * Volumes with real QEMU under TCG, through the whole path (HTTP → decider → saga → worker →
 * driver): a volume is created as a qcow2 on its host, hot-plugged into a running Linux guest
 * (QMP blockdev-add + device_add) and seen in the guest's /proc/partitions through the serial
 * console, written to, carried by a live migration to a second qemu host (NBD mirror of the
 * volume beside the disk) with its data, covered by a memory snapshot and its revert, refused
 * deletion while attached, hot-unplugged
 * (device_del until DEVICE_DELETED, blockdev-del), then deleted with its file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { vmPaths } from '../../../src/drivers/kit/vm-files.js';
import { imageInfo } from '../../../src/drivers/kit/qemu-img.js';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { waitUntil } from '../../support/e2e.js';
import { tempDir } from '../../support/env.js';
import { attachOk, createVolume, detachOk, volumeOp } from '../../support/volumes.js';
import { ensureGuest, GuestConsole, waitForLog, type GuestImage } from './guest-console.js';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/** The guest's block devices with their sizes in KiB, from /proc/partitions. */
async function partitions(c: GuestConsole): Promise<Map<string, number>> {
  const out = await c.run('cat /proc/partitions');
  const found = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^\s*\d+\s+\d+\s+(\d+)\s+(vd[a-z]+)\s*$/.exec(line);
    if (m) found.set(m[2]!, Number(m[1]));
  }
  return found;
}

describe(
  'volumes on qemu hosts (real QEMU under TCG, a real Linux guest)',
  { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' },
  () => {
    let t: TestApp;
    let guest: GuestImage;
    const storage = { a: tempDir('vl-qemu-vol-a-'), b: tempDir('vl-qemu-vol-b-') };
    const hosts = { a: 'qvol-a', b: 'qvol-b' };
    const vms: string[] = [];
    const consoles: GuestConsole[] = [];

    before(async () => {
      guest = ensureGuest();
      t = await startTestApp();
      for (const k of ['a', 'b'] as const) {
        const res = await t.as('admin').post('/v1/hosts', {
          id: hosts[k],
          name: hosts[k],
          driver: 'qemu',
          uri: `qemu:///system?storage=${storage[k].dir}&images=${guest.imagesDir}&stopTimeoutMs=2000&accel=tcg`,
          capacity: { vcpus: 8, memoryMiB: 4096, diskGiB: 50 },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
    });

    after(async () => {
      for (const c of consoles) c.close();
      for (const vmId of vms) {
        const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
        if (del.status === 202) await waitOperation(t, del.body.operationId as string, 60000).catch(() => undefined);
      }
      await t?.close();
      storage.a.cleanup();
      storage.b.cleanup();
    });

    test('hot-plug into a running guest, survive a live migration with its data, refuse delete while attached, hot-unplug, delete', async () => {
      const volumeId = await createVolume(t, { name: 'data', sizeGiB: 1, hostId: hosts.a });
      const fileOnA = join(storage.a.dir, 'volumes', `${volumeId}.qcow2`);
      const info = await imageInfo(fileOnA, { forceShare: true });
      assert.equal(info.format, 'qcow2');
      assert.equal(info['virtual-size'], 1024 ** 3);
      const hostA = await t.as('viewer').get(`/v1/hosts/${hosts.a}`);
      assert.deepEqual(hostA.body.allocated, { vcpus: 0, memoryMiB: 0, diskGiB: 1 }, 'the volume counts on its host');

      const create = await t.as('operator').post('/v1/vms', {
        name: 'vol-guest',
        vcpus: 1,
        memoryMiB: 128,
        diskGiB: 1,
        hostId: hosts.a,
        image: guest.image,
      });
      assert.equal(create.status, 202, JSON.stringify(create.body));
      const vmId = create.body.vmId as string;
      vms.push(vmId);
      assert.equal((await waitOperation(t, create.body.operationId as string, 90000)).status, 'succeeded');
      const onA = vmPaths(storage.a.dir, hosts.a, vmId);
      await waitForLog(onA.serialLog, 'GUEST-READY', 90000);
      const a = await GuestConsole.connect(onA.serialSocket);
      consoles.push(a);
      const baseline = await partitions(a);
      assert.ok(baseline.has('vda'), `the guest sees its disk: ${[...baseline.keys()].join(', ')}`);

      const attach = await attachOk(t, vmId, volumeId);
      assert.equal(attach.kind, 'attachVolume');
      assert.equal(attach.volumeId, volumeId);
      const dev: string = await waitUntil(
        'the hot-plugged volume in /proc/partitions',
        async () =>
          [...(await partitions(a)).entries()].find(([n, kib]) => !baseline.has(n) && kib === 1024 * 1024)?.[0],
        60000,
      );
      // Grown while attached and running: QMP block_resize, and the guest sees the new size.
      const grow = await volumeOp(t, 'patch', `/v1/volumes/${volumeId}`, { sizeGiB: 2 });
      assert.equal(grow.operation.status, 'succeeded', JSON.stringify(grow.operation));
      await waitUntil(
        'the guest sees 2 GiB',
        async () => ((await partitions(a)).get(dev) === 2 * 1024 * 1024 ? true : undefined),
        30000,
      );
      await a.run(`printf VLDATA42 > /dev/${dev}; sync`);
      assert.equal(await a.run(`head -c 8 /dev/${dev}`), 'VLDATA42');
      const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
      await waitUntil('the VM view shows the grown volume', async () => {
        const v = await t.as('viewer').get(`/v1/vms/${vmId}`);
        return JSON.stringify(v.body.volumes) === JSON.stringify([{ volumeId, name: 'data', sizeGiB: 2 }])
          ? true
          : undefined;
      });
      assert.equal(vm.status, 200);
      const vol = await t.as('viewer').get(`/v1/volumes/${volumeId}`);
      assert.equal(vol.body.attachedTo, vmId);

      // Delete while attached: 409 naming the VM, nothing recorded.
      const before = (await t.as('auditor').get('/v1/events?limit=1000')).body.items.length as number;
      const refused = await t.as('operator').delete(`/v1/volumes/${volumeId}`);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.match(refused.body.message as string, new RegExp(`attached to VM ${vmId}`));
      assert.equal((await t.as('auditor').get('/v1/events?limit=1000')).body.items.length, before);

      a.close();
      const mig = await t.as('operator').post(`/v1/vms/${vmId}/migrations`, { targetHostId: hosts.b, live: true });
      assert.equal(mig.status, 202, JSON.stringify(mig.body));
      const migrated = await waitOperation(t, mig.body.operationId as string, 180000);
      assert.equal(migrated.status, 'succeeded', JSON.stringify(migrated));
      const onB = vmPaths(storage.b.dir, hosts.b, vmId);
      const b = await GuestConsole.connect(onB.serialSocket);
      consoles.push(b);
      assert.equal((await partitions(b)).get(dev), 2 * 1024 * 1024, 'the volume is still attached after the migration');
      assert.equal(await b.run(`head -c 8 /dev/${dev}`), 'VLDATA42', 'its data came along');
      assert.ok(existsSync(join(storage.b.dir, 'volumes', `${volumeId}.qcow2`)), 'the file is on the target host');
      assert.ok(!existsSync(fileOnA), 'the source copy was removed once the migration succeeded');
      await waitUntil('the volume record follows its VM', async () => {
        const v = await t.as('viewer').get(`/v1/volumes/${volumeId}`);
        return v.body.hostId === hosts.b ? true : undefined;
      });

      // A memory snapshot covers the volume too: its qcow2 holds the snapshot, and a revert rewinds it.
      const snap = await t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: 'withvol', memory: true });
      assert.equal((await waitOperation(t, snap.body.operationId as string, 60000)).status, 'succeeded');
      const fileOnB = join(storage.b.dir, 'volumes', `${volumeId}.qcow2`);
      const tags = async () => ((await imageInfo(fileOnB, { forceShare: true })).snapshots ?? []).map((x) => x.name);
      assert.deepEqual(await tags(), ['withvol']);
      await b.run(`printf VLDATA43 > /dev/${dev}; sync`);
      assert.equal(await b.run(`head -c 8 /dev/${dev}`), 'VLDATA43');
      const revert = await t.as('operator').post(`/v1/vms/${vmId}/snapshots/withvol/revert`);
      assert.equal((await waitOperation(t, revert.body.operationId as string, 60000)).status, 'succeeded');
      b.close();
      const b2 = await GuestConsole.connect(onB.serialSocket);
      consoles.push(b2);
      // Dropped caches: the guest reads the volume's blocks again, as the revert left them.
      assert.equal(await b2.run(`echo 3 > /proc/sys/vm/drop_caches; head -c 8 /dev/${dev}`), 'VLDATA42');
      const delSnap = await t.as('operator').delete(`/v1/vms/${vmId}/snapshots/withvol`);
      assert.equal((await waitOperation(t, delSnap.body.operationId as string, 60000)).status, 'succeeded');
      assert.deepEqual(await tags(), []);

      await detachOk(t, vmId, volumeId);
      await waitUntil('the volume gone from /proc/partitions', async () => !(await partitions(b2)).has(dev), 60000);
      assert.deepEqual((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.volumes, []);
      await waitUntil('the claim released', async () => {
        const v = await t.as('viewer').get(`/v1/volumes/${volumeId}`);
        return v.body.attachedTo === null ? true : undefined;
      });

      // A volume on the other host cannot attach: 409 naming both hosts, nothing recorded.
      const other = await createVolume(t, { name: 'elsewhere', sizeGiB: 1, hostId: hosts.a });
      const wrongHost = await t.as('operator').post(`/v1/vms/${vmId}/volumes`, { volumeId: other });
      assert.equal(wrongHost.status, 409, JSON.stringify(wrongHost.body));
      assert.match(wrongHost.body.message as string, new RegExp(`${hosts.a}.*${hosts.b}`));

      const del = await volumeOp(t, 'delete', `/v1/volumes/${volumeId}`);
      assert.equal(del.operation.status, 'succeeded', JSON.stringify(del.operation));
      assert.ok(!existsSync(join(storage.b.dir, 'volumes', `${volumeId}.qcow2`)), 'the file was removed');
      assert.equal((await t.as('viewer').get(`/v1/volumes/${volumeId}`)).status, 404);
    });
  },
);
