/**
 * A catalog image from upload to a booted guest, with real QEMU under TCG: the guest that
 * scripts/build-guest.sh makes is uploaded as a kernel bundle (one tar), a VM names it, the
 * host's worker copies it from the shared catalog dir into the host's images dir, checks the
 * sha256, and the guest boots and answers on its serial console. Bytes changed on disk after
 * the upload are refused by the worker; a raw disk reaches the host as a qcow2 base.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { vmPaths } from '../../../src/drivers/kit/vm-files.js';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { tempDir } from '../../support/env.js';
import { putImage, rawDisk, sha256, sshEd25519 } from '../../support/image-files.js';
import { ensureGuest, GuestConsole, waitForLog } from './guest-console.js';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

describe(
  'catalog images boot on a qemu host (real QEMU under TCG)',
  { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' },
  () => {
    let t: TestApp;
    const storage = tempDir('vl-qemu-img-');
    const work = tempDir('vl-qemu-img-src-');
    const hostId = 'qemu-catalog';
    const vms: string[] = [];

    before(async () => {
      t = await startTestApp();
      const res = await t.as('admin').post('/v1/hosts', {
        id: hostId,
        name: 'qemu-catalog',
        driver: 'qemu',
        uri: `qemu:///system?storage=${storage.dir}&stopTimeoutMs=2000&accel=tcg`,
        capacity: { vcpus: 8, memoryMiB: 4096 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    });
    after(async () => {
      for (const vmId of vms) {
        const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
        if (del.status === 202) await waitOperation(t, del.body.operationId as string, 60000).catch(() => undefined);
      }
      await t?.close();
      storage.cleanup();
      work.cleanup();
    });

    const create = async (image: string) => {
      const res = await t
        .as('operator')
        .post('/v1/vms', { name: `from-${image}`, vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId, image });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      vms.push(res.body.vmId as string);
      return { vmId: res.body.vmId as string, op: await waitOperation(t, res.body.operationId as string, 90000) };
    };

    test('the guest uploaded as one tar boots from the catalog and answers on its console', async () => {
      const guest = ensureGuest();
      // The README's one-command import: tar the build output and PUT it.
      const bundle = execFileSync('tar', ['-C', guest.dir, '-cz', 'vmlinuz', 'initrd.gz', 'cmdline'], {
        maxBuffer: 512 * 1024 * 1024,
      });
      const up = await putImage(t, 'guest', bundle);
      assert.equal(up.status, 201, JSON.stringify(up.body));
      assert.equal(up.body.format, 'kernel');
      assert.equal(up.body.sha256, sha256(bundle));

      const { vmId, op } = await create('guest');
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      const copy = join(storage.dir, '.images', `guest.${sha256(bundle).slice(0, 16)}`);
      assert.deepEqual(readdirSync(copy).sort(), ['cmdline', 'initrd.gz', 'vmlinuz']);
      assert.deepEqual(readFileSync(join(copy, 'vmlinuz')), readFileSync(join(guest.dir, 'vmlinuz')));
      const paths = vmPaths(storage.dir, hostId, vmId);
      await waitForLog(paths.serialLog, 'GUEST-READY', 120000);
      const console = await GuestConsole.connect(paths.serialSocket);
      try {
        assert.equal(await console.run('echo $((6 * 7))'), '42');
      } finally {
        console.close();
      }
      const inUse = await t.as('admin').delete('/v1/images/guest');
      assert.equal(inUse.status, 409, JSON.stringify(inUse.body));
    });

    test('userData and sshKeys reach the guest on a NoCloud seed (read raw: the test kernel has no iso9660 module)', async () => {
      const marker = `VL-USERDATA-${Date.now()}`;
      const key = sshEd25519('seed@test');
      const res = await t.as('operator').post('/v1/vms', {
        name: 'seeded',
        vcpus: 1,
        memoryMiB: 128,
        diskGiB: 1,
        hostId,
        image: 'guest',
        userData: `#cloud-config\n# ${marker}\n`,
        sshKeys: [key],
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const vmId = res.body.vmId as string;
      vms.push(vmId);
      assert.equal((await waitOperation(t, res.body.operationId as string, 90000)).status, 'succeeded');
      const paths = vmPaths(storage.dir, hostId, vmId);
      await waitForLog(paths.serialLog, 'GUEST-READY', 120000);
      const guest = await GuestConsole.connect(paths.serialSocket);
      try {
        // The seed is the second virtio disk; ISO 9660 keeps the volume label at byte 32808.
        assert.equal(await guest.run('dd if=/dev/vdb bs=1 skip=32808 count=6 2>/dev/null'), 'cidata');
        assert.equal(await guest.run(`grep -a -o '${marker.slice(0, 12)}[0-9]*' /dev/vdb | head -n 1`), marker);
        assert.match(await guest.run(`grep -a -o 'seed@test' /dev/vdb | head -n 1`), /seed@test/);
      } finally {
        guest.close();
      }
    });

    test('a raw disk reaches the host as a qcow2 base; bytes changed after the upload are refused by the worker', async () => {
      const raw = rawDisk(2048);
      const up = await putImage(t, 'rawdisk', raw);
      assert.equal(up.body.format, 'raw', JSON.stringify(up.body));
      const { op } = await create('rawdisk');
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      const base = join(storage.dir, '.images', `rawdisk.${sha256(raw).slice(0, 16)}.qcow2`);
      const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', base], { encoding: 'utf8' })) as {
        format: string;
        'virtual-size': number;
      };
      assert.equal(info.format, 'qcow2');
      assert.equal(info['virtual-size'], raw.length);

      const other = rawDisk(16);
      const up2 = await putImage(t, 'tampered', other);
      assert.equal(up2.status, 201, JSON.stringify(up2.body));
      const stored = join(t.config.imageCatalogDir, 'tampered', sha256(other));
      const evil = Buffer.from(other);
      evil[0] = 0xee;
      writeFileSync(stored, evil);
      const bad = await create('tampered');
      assert.equal(bad.op.status, 'failed', JSON.stringify(bad.op));
      assert.match(String(bad.op.error), /sha256/);
      assert.equal(existsSync(join(storage.dir, '.images', `tampered.${sha256(other).slice(0, 16)}.qcow2`)), false);
    });
  },
);
