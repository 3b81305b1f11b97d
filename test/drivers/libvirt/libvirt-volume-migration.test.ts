/**
 * A libvirt VM's attached volumes between two real libvirtds (the system one and the namespaced
 * peer of .ci/services/libvirt.sh) and through snapshots: a live migration mirrors the volume
 * beside the disk (`--copy-storage-all --migrate-disks vda,vdc`), a cold one copies its file; the
 * data written before is on the target's own file after, and the source's copy is gone. A memory
 * snapshot (internal) covers the volume, so its revert brings the volume's content back; a
 * disk-only one is refused while volumes are attached.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DriverError, type DriverVolume, type VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { volumeImagePath } from '../../../src/drivers/kit/volume-files.js';
import type { LibvirtDriver } from '../../../src/drivers/libvirt/libvirt.driver.js';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { assertError, storeEvents } from '../../support/e2e.js';
import { createVolume } from '../../support/volumes.js';
import { hasPattern, writePattern } from '../qemu/qemu-test-env.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  LibvirtTestEnv,
  virshSync,
  vmSpec,
  type LibvirtDaemons,
} from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;

function sourceOf(uri: string, domain: string, target: string): string {
  return new RegExp(`^\\s*${target}\\s+(\\S+)\\s*$`, 'm').exec(virshSync(uri, ['domblklist', domain]))?.[1] ?? '';
}

describe('libvirt: attached volumes through migration and snapshots (real daemons)', { skip, timeout: 600_000 }, () => {
  let daemons: LibvirtDaemons;
  let env: LibvirtTestEnv;
  let a: LibvirtDriver;

  before(() => {
    daemons = ensureDaemons();
    env = new LibvirtTestEnv('vl-lvvolmig-');
    a = env.driver('vsrc', daemons.uri);
  });
  after(async () => {
    await env?.cleanup();
    daemons?.stop();
  });

  function peer(hostId: string): LibvirtDriver {
    assert.ok(daemons.peerUri, 'the peer libvirtd runs');
    return env.driver(hostId, daemons.peerUri, { peerUri: daemons.peerUri, migrationHost: '127.0.0.1' });
  }

  /** A VM (no guest: the data is written into the volume's file) defined with one volume holding `byte`. */
  async function vmWithVolume(byte: number): Promise<{ spec: VmSpec; volume: DriverVolume }> {
    const volume: DriverVolume = {
      volumeId: `vol-${Math.random().toString(16).slice(2, 10)}`,
      name: 'data',
      sizeGiB: 1,
    };
    const spec = vmSpec({ memoryMiB: 64, volumes: [volume] });
    await a.createVolume(volume);
    writePattern(volumeImagePath(a.storageDir, volume), byte, 1 << 20);
    await a.define(spec);
    return { spec, volume };
  }

  test('live migration mirrors the volume to the target and removes the source copy', async () => {
    const b = peer('vdst-live');
    const { spec, volume } = await vmWithVolume(0x7a);
    await a.start(spec);
    const endpoint = await b.prepareIncoming(spec, { live: true });
    const target = volumeImagePath(b.storageDir, volume);
    assert.ok(existsSync(target), 'prepare readied the target file');
    await a.migrate(spec, endpoint, { live: true });
    await b.finishIncoming(spec, { live: true });

    assert.equal((await a.status(spec)).state, 'absent');
    assert.equal((await b.status(spec)).state, 'running');
    assert.equal(sourceOf(daemons.peerUri!, b.domainName(spec.id), 'vdc'), target, 'the target runs on its own file');
    assert.ok(hasPattern(target, 0x7a, 1 << 20), 'the volume data arrived');
    assert.equal(existsSync(volumeImagePath(a.storageDir, volume)), false, "the source's copy is gone");
    await b.stop(spec, { force: true });
    assert.equal(
      sourceOf(daemons.peerUri!, b.domainName(spec.id), 'vdc'),
      target,
      'persistently defined with the target file',
    );
    await b.destroy(spec);
    await b.deleteVolume(volume);
  });

  test('cold migration copies the volume file and defines the VM with it on the target', async () => {
    const b = peer('vdst-cold');
    const { spec, volume } = await vmWithVolume(0x3b);
    const endpoint = await b.prepareIncoming(spec, { live: false });
    await a.migrate(spec, endpoint, { live: false });
    await a.migrate(spec, endpoint, { live: false }); // redelivered: already done
    await b.finishIncoming(spec, { live: false });

    const target = volumeImagePath(b.storageDir, volume);
    assert.equal((await b.status(spec)).state, 'stopped');
    assert.ok(hasPattern(target, 0x3b, 1 << 20), 'the volume data arrived');
    assert.equal(existsSync(volumeImagePath(a.storageDir, volume)), false, "the source's copy is gone");
    await b.start(spec);
    assert.equal(sourceOf(daemons.peerUri!, b.domainName(spec.id), 'vdc'), target);
    await b.destroy(spec);
    await b.deleteVolume(volume);
  });

  test('an aborted incoming migration removes the volume file prepare made', async () => {
    const b = peer('vdst-abort');
    const { spec, volume } = await vmWithVolume(0x11);
    await b.prepareIncoming(spec, { live: false });
    assert.ok(existsSync(volumeImagePath(b.storageDir, volume)));
    await b.abortIncoming(spec);
    assert.equal(existsSync(volumeImagePath(b.storageDir, volume)), false);
    assert.ok(hasPattern(volumeImagePath(a.storageDir, volume), 0x11, 1 << 20), 'the source keeps its volume');
    await a.destroy(spec);
    await a.deleteVolume(volume);
  });

  test('a memory snapshot revert brings the volume back; a disk-only snapshot is refused with volumes', async () => {
    const { spec, volume } = await vmWithVolume(0x21);
    const path = volumeImagePath(a.storageDir, volume);
    await a.start(spec);
    await assert.rejects(
      a.snapshot(spec, 'disk-only', { memory: false }),
      (e: unknown) => e instanceof DriverError && e.code === 'unsupported' && /volumes attached/.test(e.message),
    );
    await a.snapshot(spec, 'm1', { memory: true });
    await a.stop(spec, { force: true });
    writePattern(path, 0x42, 1 << 20); // changed after the snapshot
    assert.ok(hasPattern(path, 0x42, 1 << 20));
    assert.equal(await a.revert(spec, 'm1'), 'running');
    assert.ok(hasPattern(path, 0x21, 1 << 20), 'the volume is back to its content at snapshot time');
    await a.stop(spec, { force: true });
    await assert.rejects(
      a.snapshot(spec, 'stopped', { memory: true }),
      (e: unknown) => e instanceof DriverError && e.code === 'unsupported' && /volumes attached/.test(e.message),
      'a stopped VM only has disk-only snapshots: refused too',
    );
    await a.deleteSnapshot(spec, 'm1');
    await a.destroy(spec);
    await a.deleteVolume(volume);
  });
});

describe(
  'api: a libvirt VM with a volume (real libvirtd through the app and its worker)',
  { skip, timeout: 600_000 },
  () => {
    let daemons: LibvirtDaemons;
    let env: LibvirtTestEnv;
    let t: TestApp;

    before(async () => {
      daemons = ensureDaemons();
      env = new LibvirtTestEnv('vl-lvvolapi-');
      t = await startTestApp();
    });
    after(async () => {
      await t?.close();
      await env?.cleanup([daemons.uri]);
      daemons?.stop();
    });

    test('a disk-only snapshot is a 422 naming memory, nothing recorded; a memory snapshot is taken', async () => {
      const host = await t.as('admin').post('/v1/hosts', {
        name: 'lv-vol-api',
        driver: 'libvirt',
        uri: `${daemons.uri}?storage=${join(env.root, 'storage-api')}&stopTimeoutMs=2000&domainType=qemu`,
        capacity: { vcpus: 4, memoryMiB: 2048, diskGiB: 20 },
      });
      assert.equal(host.status, 201, JSON.stringify(host.body));
      const hostId = host.body.id as string;
      const volumeId = await createVolume(t, { name: 'data', sizeGiB: 1, hostId });
      const created = await t
        .as('operator')
        .post('/v1/vms', { name: 'lvvol', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId, volumes: [volumeId] });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const vmId = created.body.vmId as string;
      assert.equal((await waitOperation(t, created.body.operationId as string)).status, 'succeeded');

      const before = (await storeEvents(t)).length;
      const res = await t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: 'disk1', memory: false });
      assertError(res as never, 422);
      assert.match(String(res.body.message), /volumes attached.*disk-only/);
      assert.deepEqual((res.body.details as { fields?: string[] } | undefined)?.fields, ['memory']);
      assert.equal((await storeEvents(t)).length, before, 'a refused request appended an event');

      const mem = await t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: 'mem1' });
      assert.equal(mem.status, 202, JSON.stringify(mem.body));
      const op = await waitOperation(t, mem.body.operationId as string);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));

      const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
      assert.equal(del.status, 202, JSON.stringify(del.body));
      await waitOperation(t, del.body.operationId as string);
    });
  },
);
