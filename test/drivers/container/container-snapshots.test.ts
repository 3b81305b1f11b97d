import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import {
  ContainerTestEnv,
  containerSkipReason,
  eventually,
  inside,
  readCgroupFile,
  vmSpec,
} from './container-test-env.js';

const skip = containerSkipReason();

describe('container driver: snapshots are copies of the root filesystem (real containers)', { skip }, () => {
  const env = new ContainerTestEnv();
  after(() => env.cleanup());
  const driver = env.driver(env.hostId('ct-s'));

  test('stopped: snapshot, change a file, revert restores it; list and delete; each idempotent', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const file = join(driver.domainPaths(spec.id).rootfs, 'root', 'data.txt');
    writeFileSync(file, 'BEFORE');
    const t0 = Date.now();
    const snap = await driver.snapshot(spec, 's1', { memory: false });
    const snapMs = Date.now() - t0;
    assert.equal(snap.name, 's1');
    assert.equal(snap.memory, false);
    assert.ok((snap.sizeBytes ?? 0) > 1_000_000, 'the copy holds busybox');
    assert.deepEqual(
      await driver.snapshot(spec, 's1', { memory: false }),
      snap,
      'a retried snapshot answers the first',
    );

    writeFileSync(file, 'AFTER');
    writeFileSync(join(driver.domainPaths(spec.id).rootfs, 'root', 'new.txt'), 'created after');
    const t1 = Date.now();
    assert.equal(await driver.revert(spec, 's1'), 'stopped');
    const revertMs = Date.now() - t1;
    assert.equal(readFileSync(file, 'utf8'), 'BEFORE');
    assert.equal(existsSync(join(driver.domainPaths(spec.id).rootfs, 'root', 'new.txt')), false);

    await driver.snapshot(spec, 's2', { memory: false });
    assert.deepEqual(
      (await driver.listSnapshots(spec)).map((s) => s.name),
      ['s1', 's2'],
    );
    await driver.deleteSnapshot(spec, 's1');
    await driver.deleteSnapshot(spec, 's1');
    assert.deepEqual(
      (await driver.listSnapshots(spec)).map((s) => s.name),
      ['s2'],
    );
    await assert.rejects(
      driver.revert(spec, 's1'),
      (err) => err instanceof DriverError && err.code === 'not_found' && /no snapshot s1/.test(err.message),
    );
    await assert.rejects(driver.snapshot(spec, '../evil', { memory: false }), /invalid snapshot name/);
    console.log(`# figure: snapshot (stopped, ~2 MB rootfs) ${snapMs} ms, revert ${revertMs} ms`);
  });

  test('running: the copy is taken frozen (crash-consistent) and the container keeps running; revert restarts it on the old files', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    const pid = (await driver.status(spec)).pid as number;
    inside(pid, 'echo BEFORE > /root/data.txt');
    const cg = driver.cgroups(spec.id);
    assert.ok(cg);
    const t0 = Date.now();
    await driver.snapshot(spec, 'live1', { memory: false });
    const snapMs = Date.now() - t0;
    const after1 = await driver.status(spec);
    assert.deepEqual(after1, { state: 'running', pid }, 'same init, thawed again');
    if (cg.freezer.version === 2) assert.match(readCgroupFile(cg.freezer.dir, 'cgroup.events'), /^frozen 0$/m);

    inside(pid, 'echo AFTER > /root/data.txt');
    assert.equal(await driver.revert(spec, 'live1'), 'running');
    const st = await driver.status(spec);
    assert.equal(st.state, 'running');
    assert.notEqual(st.pid, pid, 'a fresh init on the restored files');
    assert.equal(inside(st.pid as number, 'cat /root/data.txt').trim(), 'BEFORE');

    // A paused container is snapshotted as it is and stays paused.
    await driver.pause(spec);
    await driver.snapshot(spec, 'paused1', { memory: false });
    assert.equal((await driver.status(spec)).state, 'paused');
    await driver.resume(spec);
    assert.ok(await eventually(() => inside(st.pid as number, 'echo ok').trim() === 'ok'));
    console.log(`# figure: snapshot of a running container (freeze, copy, thaw) ${snapMs} ms`);
  });

  test('names never meet on disk (issue #12): ".part" is reserved and never listed; taking s1 keeps everything else', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const reserved = (err: unknown): boolean =>
      err instanceof DriverError && err.code === 'failed' && /\.part are reserved/.test(err.message);
    await assert.rejects(driver.snapshot(spec, 's1.part', { memory: false }), reserved);
    await assert.rejects(driver.revert(spec, 's1.part'), reserved);
    // What an older release left: a complete snapshot dir named s1.part (its in-flight name for s1).
    await driver.snapshot(spec, 'x', { memory: false });
    const snaps = driver.domainPaths(spec.id).snapshots;
    renameSync(join(snaps, 'x'), join(snaps, 's1.part'));
    await driver.snapshot(spec, 's1', { memory: false });
    await driver.snapshot(spec, 's1.b', { memory: false });
    assert.deepEqual(
      (await driver.listSnapshots(spec)).map((s) => s.name),
      ['s1', 's1.b'],
      'only user names are listed, never an in-flight or leftover .part dir',
    );
    assert.ok(existsSync(join(snaps, 's1', 'meta.json')));
    assert.ok(existsSync(join(snaps, 's1.b', 'meta.json')), 'taking s1 did not touch s1.b');
    assert.deepEqual(
      readdirSync(snaps).filter((n) => n.startsWith('.part-')),
      [],
      'no in-flight dir is left',
    );
    await driver.revert(spec, 's1');
    await driver.deleteSnapshot(spec, 's1.part');
    assert.equal(existsSync(join(snaps, 's1.part')), false, 'a leftover can still be deleted by its name');
  });
});
