import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import { ContainerTestEnv, containerSkipReason, eventually, readCgroupFile, vmSpec } from './container-test-env.js';

const skip = containerSkipReason();

function driverError(code: string, message: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof DriverError, `expected a DriverError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  };
}

describe('container driver: failure paths and limits (real containers)', { skip }, () => {
  const env = new ContainerTestEnv();
  after(() => env.cleanup());
  const hostId = env.hostId('ct-f');
  const driver = env.driver(hostId, { params: { pidsMax: '12', startGraceMs: '300' } });
  const images = join(env.root, 'images');

  test('image validation: outside the allowed dirs, traversal, bad name, missing, no /sbin/init → error naming it', async () => {
    mkdirSync(join(images, 'no-init', 'bin'), { recursive: true });
    symlinkSync('/etc', join(images, 'escape'));
    const cases: Array<[string, string, RegExp]> = [
      // Outside the catalog: one answer (invalid), whether the path exists or not (no existence oracle).
      ['/etc', 'invalid', /image "\/etc" is not in this host's image catalog/],
      ['/etc/nonexistent', 'invalid', /image "\/etc\/nonexistent" is not in this host's image catalog/],
      [`${images}/../../etc`, 'invalid', /is not in this host's image catalog/],
      ['../etc', 'invalid', /image "\.\.\/etc" is not in this host's image catalog/],
      ['nope', 'not_found', /image "nope" does not exist in this host's image catalog/],
      [`${images}/nope`, 'not_found', /images\/nope" does not exist/],
      ['no-init', 'failed', /image .*no-init has no \/sbin\/init/],
      ['escape', 'invalid', /image "escape" is not in this host's image catalog/],
    ];
    for (const [image, code, message] of cases) {
      const spec = vmSpec({ image });
      await assert.rejects(driver.define(spec), driverError(code, message), image);
      assert.equal(existsSync(driver.domainPaths(spec.id).rootfs), false, `${image}: no rootfs made`);
      await driver.destroy(spec);
    }
  });

  test('an unknown VM: status absent, destroy and abortIncoming succeed, every other verb is not_found', async () => {
    const ghost = vmSpec();
    assert.deepEqual(await driver.status(ghost), { state: 'absent' });
    await driver.destroy(ghost);
    await driver.abortIncoming(ghost);
    const notFound = driverError('not_found', new RegExp(`${ghost.id} is not defined|no incoming migration`));
    await assert.rejects(driver.start(ghost), notFound);
    await assert.rejects(driver.stop(ghost, { force: true }), notFound);
    await assert.rejects(driver.stop(ghost, { force: false }), notFound);
    await assert.rejects(driver.pause(ghost), notFound);
    await assert.rejects(driver.resume(ghost), notFound);
    await assert.rejects(driver.reboot(ghost), notFound);
    await assert.rejects(driver.snapshot(ghost, 's', { memory: false }), notFound);
    await assert.rejects(driver.revert(ghost, 's'), notFound);
    await assert.rejects(driver.deleteSnapshot(ghost, 's'), notFound);
    await assert.rejects(driver.listSnapshots(ghost), notFound);
    await assert.rejects(driver.finishIncoming(ghost, { live: false }), notFound);
    assert.equal(existsSync(driver.domainPaths(ghost.id).vmDir), false, 'nothing left behind');
  });

  test('an image dir is copied into the VM and its /sbin/init runs as PID 1', async (t) => {
    const dir = await env.image('hello', '#!/bin/sh\necho "hello from $(hostname) as pid $$"\nexec sleep 3600\n');
    writeFileSync(join(dir, 'etc', 'motd'), 'image-file');
    const spec = vmSpec({ image: 'hello', name: 'img-vm' });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const p = driver.domainPaths(spec.id);
    assert.equal(readFileSync(join(p.rootfs, 'etc', 'motd'), 'utf8'), 'image-file');
    writeFileSync(join(p.rootfs, 'etc', 'motd'), 'changed in the VM');
    assert.equal(readFileSync(join(dir, 'etc', 'motd'), 'utf8'), 'image-file', 'the image itself is untouched');
    await driver.start(spec);
    assert.equal((await driver.status(spec)).state, 'running');
    assert.ok(await eventually(() => readFileSync(p.console, 'utf8').includes('hello from img-vm as pid 1')));
  });

  test('a start whose init exits at once fails with its output and exit code, and leaves nothing running', async (t) => {
    await env.image('boom', '#!/bin/sh\necho "boom: no config in /etc/app.conf" >&2\nexit 3\n');
    const spec = vmSpec({ image: 'boom' });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await assert.rejects(
      driver.start(spec),
      driverError('failed', /init exited at once \(exit code 3\).*boom: no config in \/etc\/app\.conf/s),
    );
    assert.equal((await driver.status(spec)).state, 'stopped');
    assert.equal(driver.cgroups(spec.id), undefined, 'run record removed');
    assert.equal(existsSync(driver.domainPaths(spec.id).run), false);
  });

  test('an init missing at start (deleted after define) fails naming it; a symlinked mount point is refused', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const rootfs = driver.domainPaths(spec.id).rootfs;
    rmSync(join(rootfs, 'sbin', 'init'));
    await assert.rejects(driver.start(spec), driverError('failed', /exited at once.*\/sbin\/init/s));
    assert.equal((await driver.status(spec)).state, 'stopped');
    rmSync(join(rootfs, 'proc'), { recursive: true });
    symlinkSync('/etc', join(rootfs, 'proc'));
    await assert.rejects(driver.start(spec), driverError('failed', /rootfs\/proc must be a real directory/));
  });

  test('a stop the init ignores (no SIGTERM handler): SIGKILL after the timeout; force kills at once', async (t) => {
    await env.image('deaf', '#!/bin/sh\nwhile :; do sleep 1; done\n');
    const spec = vmSpec({ image: 'deaf' });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    const t0 = Date.now();
    await driver.stop(spec, { force: false, timeoutMs: 700 });
    const hungMs = Date.now() - t0;
    assert.equal((await driver.status(spec)).state, 'stopped');
    assert.ok(hungMs >= 700, `waited the timeout (${hungMs} ms)`);
    assert.ok(hungMs < 5_000, `then killed (${hungMs} ms)`);
    await driver.start(spec);
    const t1 = Date.now();
    await driver.stop(spec, { force: true });
    const forceMs = Date.now() - t1;
    assert.ok(forceMs < 700, `force stop does not wait (${forceMs} ms)`);
    assert.equal((await driver.status(spec)).state, 'stopped');
    console.log(`# figure: hung stop ${hungMs} ms (timeout 700 ms), force stop ${forceMs} ms`);
  });

  test('the memory limit really bites: 40 MiB in a 24 MiB container is OOM-killed, 4 MiB passes', async (t) => {
    const spec = vmSpec({ memoryMiB: 24 });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const rootfs = driver.domainPaths(spec.id).rootfs;
    writeFileSync(
      join(rootfs, 'etc', 'rc.local'),
      '#!/bin/sh\ndd if=/dev/zero of=/dev/null bs=40M count=1; echo $? > /tmp/big\n' +
        'dd if=/dev/zero of=/dev/null bs=4M count=1; echo $? > /tmp/small\n',
      { mode: 0o755 },
    );
    await driver.start(spec);
    const cg = driver.cgroups(spec.id);
    assert.ok(cg);
    assert.ok(await eventually(() => existsSync(join(rootfs, 'tmp', 'small')), 10_000));
    assert.notEqual(readFileSync(join(rootfs, 'tmp', 'big'), 'utf8').trim(), '0', 'the big dd was killed');
    assert.equal(readFileSync(join(rootfs, 'tmp', 'small'), 'utf8').trim(), '0', 'the small dd completed');
    const oom =
      cg.memory.version === 1
        ? readCgroupFile(cg.memory.dir, 'memory.oom_control')
        : readCgroupFile(cg.memory.dir, 'memory.events');
    assert.match(oom, /oom_kill [1-9]/);
    assert.equal((await driver.status(spec)).state, 'running', 'the init itself survives');
  });

  test('the pids limit really bites: 30 background sleeps in a pids.max=12 container stop at 12', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const rootfs = driver.domainPaths(spec.id).rootfs;
    writeFileSync(
      join(rootfs, 'etc', 'rc.local'),
      '#!/bin/sh\n(for i in $(seq 1 30); do sleep 3 & done) 2>/dev/null; echo done > /tmp/forked\n',
      { mode: 0o755 },
    );
    await driver.start(spec);
    const cg = driver.cgroups(spec.id);
    assert.ok(cg);
    assert.ok(await eventually(() => existsSync(join(rootfs, 'tmp', 'forked')), 10_000));
    assert.ok(Number(readCgroupFile(cg.pids.dir, 'pids.current')) <= 12);
    assert.match(readCgroupFile(cg.pids.dir, 'pids.events'), /max [1-9]/);
  });

  test('memory snapshots and live migration are refused as unsupported, before anything changes', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    await assert.rejects(driver.snapshot(spec, 'm1', { memory: true }), driverError('unsupported', /CRIU/));
    assert.deepEqual(await driver.listSnapshots(spec), []);
    const other = env.driver(env.hostId('ct-f2'));
    await assert.rejects(other.prepareIncoming(spec, { live: true }), driverError('unsupported', /cold only/));
    await assert.rejects(driver.migrate(spec, {}, { live: true }), driverError('unsupported', /cold only/));
    assert.equal((await driver.status(spec)).state, 'running');
  });

  test('the container outlives the worker process that started it (the worker is SIGKILLed)', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const driverModule = fileURLToPath(new URL('../../../src/drivers/container/container.driver.js', import.meta.url));
    const script = `
      const { ContainerDriver } = await import(${JSON.stringify(driverModule)});
      const d = new ContainerDriver(${JSON.stringify({ id: hostId, driver: 'container', uri: 'container:///', storageDir: driver.storageDir })});
      await d.start(${JSON.stringify(spec)});
      process.kill(process.pid, 'SIGKILL');`;
    const worker = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    assert.equal(worker.signal, 'SIGKILL', String(worker.stderr));
    const st = await driver.status(spec);
    assert.equal(st.state, 'running');
    assert.ok(st.pid);
    assert.match(readFileSync(`/proc/${st.pid}/status`, 'utf8'), /NSpid:\s+\d+\s+1\n/);
    await driver.stop(spec, { force: false });
    assert.equal((await driver.status(spec)).state, 'stopped');
  });
});
