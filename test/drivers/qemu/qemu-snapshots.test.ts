import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import { imageInfo, snapshotImage } from '../../../src/drivers/kit/qemu-img.js';
import { QemuTestEnv, hasPattern, vmSpec, writePattern } from './qemu-test-env.js';

describe('qemu driver: snapshots (real qemu, no-OS VMs)', () => {
  const env = new QemuTestEnv();
  after(() => env.cleanup());
  const driver = env.driver('host-s');

  test('disk snapshot of a stopped VM: qemu-img; list reads the image; revert rewinds the data; delete', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    const disk = driver.domainPaths(spec.id).disk;
    writePattern(disk, 0x11);
    const snap = await driver.snapshot(spec, 's1', { memory: false });
    assert.equal(snap.name, 's1');
    assert.equal(snap.memory, false);
    assert.ok(snap.createdAt);
    assert.deepEqual(
      (await imageInfo(disk, { forceShare: false })).snapshots?.map((s) => s.name),
      ['s1'],
    );
    assert.deepEqual(
      await driver.snapshot(spec, 's1', { memory: false }),
      snap,
      'a retried snapshot returns the first',
    );

    writePattern(disk, 0x22);
    assert.equal(await driver.revert(spec, 's1'), 'stopped');
    assert.ok(hasPattern(disk, 0x11), 'revert must restore the data of s1');

    // Made behind the driver's back: list must show it, because it reads the image.
    await snapshotImage(disk, 'create', 'outside');
    assert.deepEqual(
      (await driver.listSnapshots(spec)).map((s) => s.name),
      ['s1', 'outside'],
    );

    await driver.deleteSnapshot(spec, 's1');
    await driver.deleteSnapshot(spec, 's1');
    assert.deepEqual(
      (await driver.listSnapshots(spec)).map((s) => s.name),
      ['outside'],
    );
    await assert.rejects(driver.revert(spec, 's1'), (e: unknown) => e instanceof DriverError && e.code === 'not_found');

    // A memory snapshot cannot be taken of a stopped VM: it is disk-only, and says so.
    assert.equal((await driver.snapshot(spec, 'cold', { memory: true })).memory, false);
    await driver.destroy(spec);
  });

  test('memory snapshot of a running VM (snapshot-save job), revert while running, delete while running', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    const t0 = Date.now();
    const snap = await driver.snapshot(spec, 'm1', { memory: true });
    const saveMs = Date.now() - t0;
    assert.equal(snap.memory, true);
    assert.ok((snap.sizeBytes ?? 0) > 0);
    assert.equal((await driver.status(spec)).state, 'running', 'saving must leave the VM running');
    const listed = await driver.listSnapshots(spec);
    assert.deepEqual(
      listed.map((s) => [s.name, s.memory]),
      [['m1', true]],
    );

    await driver.pause(spec);
    const t1 = Date.now();
    assert.equal(await driver.revert(spec, 'm1'), 'running', 'a memory snapshot restores the running state');
    const loadMs = Date.now() - t1;

    const t2 = Date.now();
    await driver.deleteSnapshot(spec, 'm1');
    const deleteMs = Date.now() - t2;
    assert.deepEqual(await driver.listSnapshots(spec), []);
    assert.equal((await driver.status(spec)).state, 'running');
    console.log(`[timing] memory snapshot save ${saveMs} ms, load ${loadMs} ms, delete ${deleteMs} ms (running VM)`);
    await driver.destroy(spec);
  });

  test('a memory snapshot reverted while the VM is stopped starts it from that state (-loadvm)', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    await driver.snapshot(spec, 'm2', { memory: true });
    await driver.stop(spec, { force: true });
    assert.equal(await driver.revert(spec, 'm2'), 'running');
    const status = await driver.status(spec);
    assert.equal(status.state, 'running');
    await driver.destroy(spec);
  });

  test('disk-only snapshot of a running VM is taken live; reverting to it stops the VM and rewinds the disk', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    writePattern(driver.domainPaths(spec.id).disk, 0x33);
    await driver.start(spec);
    const snap = await driver.snapshot(spec, 'd1', { memory: false });
    assert.equal(snap.memory, false);
    assert.equal((await driver.status(spec)).state, 'running');
    await driver.stop(spec, { force: true });
    writePattern(driver.domainPaths(spec.id).disk, 0x44);
    await driver.start(spec);
    assert.equal(await driver.revert(spec, 'd1'), 'stopped');
    assert.ok(hasPattern(driver.domainPaths(spec.id).disk, 0x33));
    await driver.destroy(spec);
  });
});
