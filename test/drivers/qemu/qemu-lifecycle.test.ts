import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import { imageInfo, createQcow2 } from '../../../src/drivers/kit/qemu-img.js';
import { qemuCapabilities } from '../../../src/drivers/qemu/qemu.driver.js';
import { listQemuProcesses, sendSignal } from '../../../src/drivers/qemu/qemu-process.js';
import { waitFor } from '../../support/wait.js';
import { QemuTestEnv, hasPattern, imageLockedAgainstWriters, vmSpec, writePattern } from './qemu-test-env.js';

function isDriverError(code: string): (err: unknown) => boolean {
  return (err) => err instanceof DriverError && err.code === code;
}

describe('qemu driver: lifecycle of no-OS VMs (real qemu)', () => {
  const env = new QemuTestEnv();
  after(() => env.cleanup());
  const driver = env.driver('host-a');

  test('capabilities are declared from the URI; TCG is chosen when asked', () => {
    assert.deepEqual(driver.capabilities, {
      liveMigration: true,
      coldMigration: true,
      memorySnapshots: true,
      diskSnapshots: true,
      pause: true,
      reboot: true,
      hardwareAcceleration: false,
      hotResize: { vcpus: 'grow', memory: 'grow', diskGrow: true, memoryStepMiB: 128 },
    });
    assert.equal(qemuCapabilities('qemu:///system?accel=tcg').hardwareAcceleration, false);
    assert.throws(() => qemuCapabilities('qemu:///system?storage=relative/dir'), /absolute/);
    assert.throws(() => qemuCapabilities('qemu:///system?stroage=/x'), /unknown qemu host URI parameter/);
    assert.throws(() => qemuCapabilities('qemu://otherhost/system'), /qemu:\/\/\/system/);
  });

  test('define creates a qcow2 and spec.json with absolute paths, stopped; define again is a no-op', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    const paths = driver.domainPaths(spec.id);
    assert.equal(paths.disk, join(driver.storageDir, spec.id, 'disk.qcow2'));
    const info = await imageInfo(paths.disk, { forceShare: false });
    assert.equal(info.format, 'qcow2');
    assert.equal(info['virtual-size'], 1024 ** 3);
    assert.equal(JSON.parse(readFileSync(paths.spec, 'utf8')).id, spec.id);
    writePattern(paths.disk, 0x5a);
    await driver.define(spec);
    assert.ok(hasPattern(paths.disk, 0x5a), 'a second define must not recreate the disk');
    assert.equal((await driver.status(spec)).state, 'stopped');
    await driver.destroy(spec);
  });

  test('start, pause, resume, reboot, stop(force) and destroy, each idempotent', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    const t0 = Date.now();
    await driver.start(spec);
    const startMs = Date.now() - t0;
    const running = await driver.status(spec);
    assert.equal(running.state, 'running');
    assert.ok(running.pid);
    await driver.start(spec);
    assert.equal((await driver.status(spec)).pid, running.pid, 'start of a running VM must not start another');

    await driver.pause(spec);
    assert.equal((await driver.status(spec)).state, 'paused');
    await driver.pause(spec);
    await driver.resume(spec);
    assert.equal((await driver.status(spec)).state, 'running');
    await driver.resume(spec);
    await driver.reboot(spec);
    assert.equal((await driver.status(spec)).state, 'running');

    const t1 = Date.now();
    await driver.stop(spec, { force: true });
    const stopMs = Date.now() - t1;
    const stopped = await driver.status(spec);
    assert.equal(stopped.state, 'stopped');
    assert.equal(stopped.detail, 'stopped by the driver (quit)');
    assert.ok(!listQemuProcesses().some((p) => p.pid === running.pid));
    await driver.stop(spec, { force: true });
    await driver.stop(spec, { force: false });

    await assert.rejects(driver.pause(spec), isDriverError('conflict'));
    await assert.rejects(driver.reboot(spec), isDriverError('conflict'));

    await driver.start(spec);
    await driver.destroy(spec);
    assert.equal((await driver.status(spec)).state, 'absent');
    assert.ok(!existsSync(join(driver.storageDir, spec.id)));
    await driver.destroy(spec);
    console.log(`[timing] no-OS start ${startMs} ms, force stop ${stopMs} ms`);
  });

  test('graceful stop of a VM without an OS waits timeoutMs for ACPI, then quits', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    const t0 = Date.now();
    await driver.stop(spec, { force: false, timeoutMs: 800 });
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 800, `stop returned after ${elapsed} ms, before the grace period`);
    assert.ok(elapsed < 10_000, `stop took ${elapsed} ms`);
    assert.deepEqual(await driver.status(spec), { state: 'stopped', detail: 'stopped by the driver (quit)' });
    await driver.destroy(spec);
  });

  test('a graceful stop cancelled while the guest ignores ACPI: the wait ends, QEMU keeps running; force still stops', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    const cancel = new AbortController();
    const t0 = Date.now();
    const stopping = driver.stop(spec, { force: false, timeoutMs: 120_000 }, { signal: cancel.signal });
    // The stop has begun (its marker is written before the power button is pressed): cancel it.
    await waitFor(() => existsSync(driver.domainPaths(spec.id).stoppedMarker), { what: 'the stop to begin' });
    cancel.abort();
    await assert.rejects(stopping, /cancelled while the guest was powering off/);
    assert.ok(Date.now() - t0 < 60_000, 'the cancel ended the ACPI wait, not its timeout');
    assert.equal((await driver.status(spec)).state, 'running');
    assert.equal(existsSync(driver.domainPaths(spec.id).stoppedMarker), false, 'no exit was intended');
    await driver.stop(spec, { force: true });
    assert.equal((await driver.status(spec)).state, 'stopped');
    await driver.destroy(spec);
  });

  test('start of an undefined VM is not_found; invalid ids and names never reach a path', async () => {
    await assert.rejects(driver.start(vmSpec()), isDriverError('not_found'));
    for (const id of ['../etc', 'a/b', '-rf', '', 'x'.repeat(65), 'a b', 'a,b']) {
      await assert.rejects(driver.define(vmSpec({ id })), /invalid vm id/);
    }
    const spec = vmSpec();
    await driver.define(spec);
    for (const name of ['../x', 'a"b', 'savevm x', ';quit']) {
      await assert.rejects(driver.snapshot(spec, name, { memory: false }), /invalid snapshot name/);
    }
    await driver.destroy(spec);
  });

  test('a QEMU killed from outside shows crashed (SIGKILL and SIGTERM); stop acknowledges it', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    const pid = (await driver.status(spec)).pid;
    assert.ok(pid);
    sendSignal(pid, 'SIGKILL');
    await waitForState(() => driver.status(spec), 'crashed');
    assert.match((await driver.status(spec)).detail ?? '', /SIGKILL or crash/);
    await driver.stop(spec, { force: true });
    assert.equal((await driver.status(spec)).state, 'stopped');

    await driver.start(spec);
    const pid2 = (await driver.status(spec)).pid;
    assert.ok(pid2);
    sendSignal(pid2, 'SIGTERM');
    await waitForState(() => driver.status(spec), 'crashed');
    assert.match((await driver.status(spec)).detail ?? '', /terminating on signal 15/);
    await driver.destroy(spec);
  });

  test('a new driver instance (worker restart) finds the running VM and stops it', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    const pid = (await driver.status(spec)).pid;
    const restarted = env.driver('host-a');
    const seen = await restarted.status(spec);
    assert.equal(seen.state, 'running');
    assert.equal(seen.pid, pid);
    await restarted.stop(spec, { force: true });
    assert.equal((await driver.status(spec)).state, 'stopped');
    await restarted.destroy(spec);
  });

  test('a worker killed between spawning QEMU and recording it: the restarted worker adopts that QEMU, no second one', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    const pid = (await driver.status(spec)).pid;
    const paths = driver.domainPaths(spec.id);
    // What the dead worker left: the QEMU runs, but run.json still names an older, dead process.
    const run = JSON.parse(readFileSync(paths.runInfo, 'utf8')) as { pid: number };
    writeFileSync(paths.runInfo, JSON.stringify({ ...run, pid: 999_999_999 }));
    const restarted = env.driver('host-a');
    await restarted.start(spec);
    const seen = await restarted.status(spec);
    assert.equal(seen.state, 'running');
    assert.equal(seen.pid, pid, 'the running QEMU is adopted');
    const mine = listQemuProcesses().filter((q) => q.argv.includes(paths.pidFile));
    assert.deepEqual(
      mine.map((q) => q.pid),
      [pid],
      'exactly one QEMU for the VM',
    );
    await restarted.stop(spec, { force: true });
    assert.equal((await restarted.status(spec)).state, 'stopped');
    await restarted.destroy(spec);
  });

  test('listDomains reports our VMs and a foreign qemu as managed:false, and leaves the foreign one alive', async () => {
    const spec = vmSpec();
    const idle = vmSpec();
    await driver.define(spec);
    await driver.define(idle);
    await driver.start(spec);
    const foreignName = `foreign-${Date.now()}`;
    const foreign = spawn(
      'qemu-system-x86_64',
      ['-name', foreignName, '-accel', 'tcg', '-m', '32', '-nodefaults', '-display', 'none', '-S'],
      { stdio: 'ignore', detached: true },
    );
    assert.ok(foreign.pid);
    env.track(foreign.pid);
    await waitUntil(() => listQemuProcesses().some((p) => p.pid === foreign.pid && p.argv[0]?.includes('qemu')));

    const domains = await driver.listDomains();
    const ours = domains.find((d) => d.vmId === spec.id);
    assert.equal(ours?.managed, true);
    assert.equal(ours?.state, 'running');
    assert.equal(domains.find((d) => d.vmId === idle.id)?.state, 'stopped');
    const other = domains.find((d) => d.pid === foreign.pid);
    assert.equal(other?.managed, false);
    assert.equal(other?.vmId, foreignName);
    assert.ok(
      listQemuProcesses().some((p) => p.pid === foreign.pid),
      'the foreign qemu must still run',
    );
    foreign.kill('SIGKILL');
    await driver.destroy(spec);
    await driver.destroy(idle);
  });

  test('a failed start surfaces QEMU’s own message (disk locked by a foreign qemu)', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    const disk = driver.domainPaths(spec.id).disk;
    const holder = spawn(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-m',
        '32',
        '-nodefaults',
        '-display',
        'none',
        '-S',
        '-drive',
        `file=${disk},format=qcow2,if=none`,
      ],
      { stdio: 'ignore' },
    );
    assert.ok(holder.pid);
    env.track(holder.pid);
    // QEMU has the image open, and its lock refuses a second writer, only once /proc/locks shows it.
    await waitFor(() => imageLockedAgainstWriters(disk), {
      what: `the foreign qemu (pid ${holder.pid}) to lock ${disk} against writers`,
      timeoutMs: 30_000,
    });
    await assert.rejects(driver.start(spec), (err: unknown) => {
      assert.ok(err instanceof DriverError);
      assert.equal(err.code, 'failed');
      assert.match(err.message, /Failed to get "write" lock/);
      return true;
    });
    assert.equal((await driver.status(spec)).state, 'stopped');
    const exited = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await exited;
    await driver.destroy(spec);
  });

  test('sockets move to a short /tmp dir when the storage path is too long for sun_path', async () => {
    const deep = join(env.root, 'd'.repeat(60), 'e'.repeat(60));
    mkdirSync(deep, { recursive: true });
    const longDriver = env.driver('host-long', { storage: join('d'.repeat(60), 'e'.repeat(60)) });
    const spec = vmSpec();
    await longDriver.define(spec);
    await longDriver.start(spec);
    const paths = longDriver.domainPaths(spec.id);
    assert.match(paths.qmpSocket, /^\/tmp\/vlq-[0-9a-f]{16}\/qmp\.sock$/);
    assert.equal((await longDriver.status(spec)).state, 'running');
    await longDriver.destroy(spec);
    assert.ok(!existsSync(paths.socketDir));
  });

  test('spec.image names a base image in the images dir: the disk is a qcow2 overlay on it', async () => {
    const imagesDir = join(driver.storageDir, '.images');
    mkdirSync(imagesDir, { recursive: true });
    const base = join(imagesDir, 'base1');
    await createQcow2(base, 1024 ** 3);
    writePattern(base, 0x42);
    const spec = vmSpec({ image: 'base1' });
    await driver.define(spec);
    const info = await imageInfo(driver.domainPaths(spec.id).disk, { forceShare: false });
    assert.equal(info['backing-filename'], base);
    assert.ok(hasPattern(driver.domainPaths(spec.id).disk, 0x42));
    await driver.start(spec);
    assert.equal((await driver.status(spec)).state, 'running');
    await driver.destroy(spec);
    await assert.rejects(driver.define(vmSpec({ image: 'missing' })), isDriverError('not_found'));
  });
});

async function waitForState(read: () => Promise<{ state: string }>, state: string, timeoutMs = 5_000): Promise<void> {
  await waitFor(async () => (await read()).state === state, { what: `state ${state}`, timeoutMs, intervalMs: 50 });
}

async function waitUntil(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  await waitFor(cond, { what: 'the condition', timeoutMs, intervalMs: 50 });
}
