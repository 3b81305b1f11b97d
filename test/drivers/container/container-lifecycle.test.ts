import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import { containerCapabilities } from '../../../src/drivers/container/container.driver.js';
import { canGrowOnline } from '../../../src/drivers/container/disk-image.js';
import { parseContainerUri } from '../../../src/drivers/container/container-uri.js';
import {
  ContainerTestEnv,
  containerSkipReason,
  eventually,
  inside,
  readCgroupFile,
  controlTicks,
  vmSpec,
} from './container-test-env.js';

const skip = containerSkipReason();

function isDriverError(code: string): (err: unknown) => boolean {
  return (err) => err instanceof DriverError && err.code === code;
}

/** A ticker started by the init's rc.local: it bumps /tmp/ticks every 20 ms while the container runs. */
const TICKER = '#!/bin/sh\n(i=0; while :; do i=$((i+1)); echo $i > /tmp/ticks; usleep 20000; done) &\n';

describe('container driver: lifecycle of real isolated containers', { skip }, () => {
  const env = new ContainerTestEnv();
  after(() => env.cleanup());
  const hostId = env.hostId('ct-a');
  const driver = env.driver(hostId, { params: { pidsMax: '77' } });

  test('capabilities and host URI: cold only, disk snapshots only, parse errors name the parameter', () => {
    assert.deepEqual(driver.capabilities, {
      liveMigration: false,
      coldMigration: true,
      memorySnapshots: false,
      diskSnapshots: true,
      pause: true,
      reboot: true,
      hardwareAcceleration: false,
      // Live root-disk growth needs CAP_SYS_RESOURCE (online ext4 resize), which a sandbox may lack.
      hotResize: { vcpus: 'any', memory: 'any', diskGrow: canGrowOnline() },
    });
    assert.equal(parseContainerUri('container:///?storage=/srv/ct/').storageDir, '/srv/ct');
    assert.deepEqual(parseContainerUri('container:///system?images=/a&images=/b').imageDirs, ['/a', '/b']);
    assert.throws(() => containerCapabilities('container:///?storage=relative'), /storage must be an absolute path/);
    assert.throws(
      () => containerCapabilities('container:///?stroage=/x'),
      /unknown container host URI parameter "stroage"/,
    );
    assert.throws(() => containerCapabilities('container://otherhost/'), /container:\/\/\/\?storage/);
    assert.throws(() => containerCapabilities('container:///?pidsMax=0'), /pidsMax must be a positive integer/);
    assert.throws(() => containerCapabilities('container:///?cgroupParent=/a/../b'), /cgroupParent/);
    assert.throws(() => containerCapabilities('container:///?freezer=v3'), /freezer must be auto, v1 or v2/);
    assert.throws(() => containerCapabilities('container:///?migration=ftp'), /migration must be dir or tcp/);
  });

  test('define builds a busybox root filesystem and is a no-op the second time', async () => {
    const spec = vmSpec();
    const t0 = Date.now();
    await driver.define(spec);
    const defineMs = Date.now() - t0;
    const p = driver.domainPaths(spec.id);
    assert.ok(existsSync(join(p.rootfs, 'bin', 'busybox')));
    assert.equal(readlinkSync(join(p.rootfs, 'bin', 'sh')), 'busybox');
    assert.match(readFileSync(join(p.rootfs, 'sbin', 'init'), 'utf8'), /trap 'exit 0' TERM/);
    writeFileSync(join(p.rootfs, 'root', 'keep.txt'), 'mine');
    await driver.define(spec);
    assert.equal(readFileSync(join(p.rootfs, 'root', 'keep.txt'), 'utf8'), 'mine', 'define again must keep the rootfs');
    assert.equal((await driver.status(spec)).state, 'stopped');
    await driver.destroy(spec);
    assert.equal((await driver.status(spec)).state, 'absent');
    assert.equal(existsSync(p.vmDir), false);
    console.log(`# figure: define (busybox rootfs) ${defineMs} ms`);
  });

  test('a started container is isolated: own PID 1, hostname, only lo, its own root; limits are in its cgroups', async (t) => {
    const spec = vmSpec({ name: 'Web One', vcpus: 2, memoryMiB: 48 });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const t0 = Date.now();
    await driver.start(spec);
    const startMs = Date.now() - t0;
    const st = await driver.status(spec);
    assert.equal(st.state, 'running');
    const pid = st.pid as number;

    // PID namespace: the init is PID 1 inside and a different pid on the host.
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`NSpid:\\s+${pid}\\s+1\\n`));
    const ps = inside(pid, 'ps -o pid,args');
    assert.match(ps, /^\s*1\s+(\{init\} )?\/bin\/sh \/sbin\/init/m);
    assert.doesNotMatch(ps, /node|process_api/, 'no host process is visible inside');
    for (const ns of ['pid', 'mnt', 'uts', 'ipc', 'net']) {
      assert.notEqual(readlinkSync(`/proc/${pid}/ns/${ns}`), readlinkSync(`/proc/self/ns/${ns}`), `${ns} namespace`);
    }
    assert.equal(inside(pid, 'hostname').trim(), 'web-one');
    assert.deepEqual(inside(pid, 'ls /sys/class/net 2>/dev/null || ip -o link | cut -d: -f2').trim().split(/\s+/), [
      'lo',
    ]);
    assert.match(inside(pid, 'ip -o link'), /lo:.*UP/);
    // pivot_root: the host's files are out of reach, the root is the VM's rootfs.
    assert.equal(
      inside(pid, 'test -e /usr/bin/unshare -o -e /.oldroot/usr/bin/unshare && echo host || echo confined').trim(),
      'confined',
    );
    writeFileSync(join(driver.domainPaths(spec.id).rootfs, 'root', 'marker'), 'from-host');
    assert.equal(inside(pid, 'cat /root/marker'), 'from-host');
    const initEnv = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).sort();
    assert.deepEqual(initEnv, [
      'HOME=/root',
      'PATH=/bin:/sbin:/usr/bin:/usr/sbin',
      'TERM=linux',
      'container=virtledger',
    ]);

    const cg = driver.cgroups(spec.id);
    assert.ok(cg);
    const memFile = cg.memory.version === 1 ? 'memory.limit_in_bytes' : 'memory.max';
    assert.equal(readCgroupFile(cg.memory.dir, memFile), String(48 * 1024 * 1024));
    if (cg.memory.version === 1 && existsSync(join(cg.memory.dir, 'memory.memsw.limit_in_bytes'))) {
      assert.equal(readCgroupFile(cg.memory.dir, 'memory.memsw.limit_in_bytes'), String(48 * 1024 * 1024));
    }
    if (cg.cpu.version === 1) {
      assert.equal(readCgroupFile(cg.cpu.dir, 'cpu.cfs_quota_us'), '200000');
      assert.equal(readCgroupFile(cg.cpu.dir, 'cpu.cfs_period_us'), '100000');
    } else {
      assert.equal(readCgroupFile(cg.cpu.dir, 'cpu.max'), '200000 100000');
    }
    assert.equal(readCgroupFile(cg.pids.dir, 'pids.max'), '77');
    for (const dir of cg.dirs) {
      assert.ok(readCgroupFile(dir, 'cgroup.procs').split('\n').includes(String(pid)), `init is in ${dir}`);
    }
    console.log(`# figure: start ${startMs} ms (cgroups: ${cg.dirs.join(', ')})`);
  });

  test('start of a running container, stop of a stopped one and destroy of an absent one succeed', async () => {
    const spec = vmSpec();
    await driver.define(spec);
    await driver.start(spec);
    const pid = (await driver.status(spec)).pid;
    await driver.start(spec);
    assert.equal((await driver.status(spec)).pid, pid, 'a second start keeps the same init');
    const t0 = Date.now();
    await driver.stop(spec, { force: false });
    const stopMs = Date.now() - t0;
    assert.equal((await driver.status(spec)).state, 'stopped');
    assert.equal(existsSync(`/proc/${pid}`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), false);
    await driver.stop(spec, { force: false });
    await driver.stop(spec, { force: true });
    await driver.destroy(spec);
    await driver.destroy(spec);
    assert.equal((await driver.status(spec)).state, 'absent');
    await assert.rejects(driver.start(spec), isDriverError('not_found'));
    console.log(`# figure: graceful stop (SIGTERM to the busybox init) ${stopMs} ms`);
  });

  test('pause freezes every process (cgroup frozen, ticker stops); resume thaws; both idempotent', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const rootfs = driver.domainPaths(spec.id).rootfs;
    writeFileSync(join(rootfs, 'etc', 'rc.local'), TICKER, { mode: 0o755 });
    await driver.start(spec);
    const ticks = (): number => Number(readFileSync(join(rootfs, 'tmp', 'ticks'), 'utf8').trim() || 0);
    assert.ok(await eventually(() => existsSync(join(rootfs, 'tmp', 'ticks')) && ticks() > 2), 'ticker runs');

    const t0 = Date.now();
    await driver.pause(spec);
    const pauseMs = Date.now() - t0;
    await driver.pause(spec);
    assert.equal((await driver.status(spec)).state, 'paused');
    const cg = driver.cgroups(spec.id);
    assert.ok(cg);
    if (cg.freezer.version === 2) assert.match(readCgroupFile(cg.freezer.dir, 'cgroup.events'), /^frozen 1$/m);
    else assert.equal(readCgroupFile(cg.freezer.dir, 'freezer.state'), 'FROZEN');
    const frozenAt = ticks();
    await controlTicks(15);
    assert.equal(ticks(), frozenAt, 'no tick while frozen');

    const t1 = Date.now();
    await driver.resume(spec);
    const resumeMs = Date.now() - t1;
    await driver.resume(spec);
    assert.equal((await driver.status(spec)).state, 'running');
    assert.ok(await eventually(() => ticks() > frozenAt + 2), 'ticks again after resume');

    // A paused container stops at once: it is thawed before the signal, which a frozen task would not act on.
    await driver.pause(spec);
    await driver.stop(spec, { force: false, timeoutMs: 5_000 });
    assert.equal((await driver.status(spec)).state, 'stopped');
    await assert.rejects(driver.pause(spec), isDriverError('conflict'));
    await assert.rejects(driver.resume(spec), isDriverError('conflict'));
    console.log(`# figure: pause ${pauseMs} ms, resume ${resumeMs} ms`);
  });

  test('the v1 freezer (freezer=v1 in the host URI) freezes as well: freezer.state FROZEN, ticker stops', async (t) => {
    const v1 = env.driver(env.hostId('ct-v1'), { params: { freezer: 'v1' } });
    const spec = vmSpec();
    await v1.define(spec);
    t.after(() => v1.destroy(spec));
    const rootfs = v1.domainPaths(spec.id).rootfs;
    writeFileSync(join(rootfs, 'etc', 'rc.local'), TICKER, { mode: 0o755 });
    await v1.start(spec);
    const cg = v1.cgroups(spec.id);
    assert.ok(cg);
    assert.equal(cg.freezer.version, 1);
    assert.match(cg.freezer.dir, /\/freezer\//);
    const ticks = (): number => Number(readFileSync(join(rootfs, 'tmp', 'ticks'), 'utf8').trim() || 0);
    assert.ok(await eventually(() => existsSync(join(rootfs, 'tmp', 'ticks')) && ticks() > 2), 'ticker runs');
    await v1.pause(spec);
    assert.equal(readCgroupFile(cg.freezer.dir, 'freezer.state'), 'FROZEN');
    assert.equal((await v1.status(spec)).state, 'paused');
    const frozenAt = ticks();
    await controlTicks(15);
    assert.equal(ticks(), frozenAt, 'no tick while frozen');
    await v1.resume(spec);
    assert.equal(readCgroupFile(cg.freezer.dir, 'freezer.state'), 'THAWED');
    assert.ok(await eventually(() => ticks() > frozenAt + 2), 'ticks again after resume');
    // Frozen v1 tasks act on no signal until thawed: stop must thaw first, or it would hang.
    await v1.pause(spec);
    await v1.stop(spec, { force: false, timeoutMs: 5_000 });
    assert.equal((await v1.status(spec)).state, 'stopped');
    assert.equal(existsSync(cg.freezer.dir), false, 'the freezer cgroup is removed');
  });

  test('reboot gives a fresh init (new host pid) with the same root filesystem', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await assert.rejects(driver.reboot(spec), isDriverError('conflict'));
    await driver.start(spec);
    const before = (await driver.status(spec)).pid as number;
    inside(before, 'echo persisted > /root/file');
    await driver.reboot(spec);
    const st = await driver.status(spec);
    assert.equal(st.state, 'running');
    assert.notEqual(st.pid, before);
    assert.equal(inside(st.pid as number, 'cat /root/file').trim(), 'persisted');
  });

  test('kill -9 of the init from outside reads as crashed, with the console; start brings it back', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    writeFileSync(join(driver.domainPaths(spec.id).rootfs, 'etc', 'rc.local'), '#!/bin/sh\necho hello-from-rc\n', {
      mode: 0o755,
    });
    await driver.start(spec);
    const pid = (await driver.status(spec)).pid as number;
    process.kill(pid, 'SIGKILL');
    assert.ok(await eventually(() => driver.initPid(spec.id) === undefined));
    const st = await driver.status(spec);
    assert.equal(st.state, 'crashed');
    assert.match(st.detail ?? '', new RegExp(`pid ${pid}.*hello-from-rc`, 's'));
    const listed = (await driver.listDomains()).find((d) => d.vmId === spec.id);
    assert.equal(listed?.state, 'crashed');
    await driver.start(spec);
    assert.equal((await driver.status(spec)).state, 'running');
  });

  test('a new driver instance (a restarted worker) sees the running container and can stop it', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    const pid = (await driver.status(spec)).pid;
    await driver.close();
    const restarted = env.driver(hostId);
    assert.deepEqual(await restarted.status(spec), { state: 'running', pid });
    const listed = (await restarted.listDomains()).find((d) => d.vmId === spec.id);
    assert.deepEqual(listed, { vmId: spec.id, managed: true, state: 'running', pid });
    await restarted.stop(spec, { force: false });
    assert.equal((await driver.status(spec)).state, 'stopped');
  });

  test('a reused pid is not taken for the container (start time guard)', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    const runFile = driver.domainPaths(spec.id).run;
    const run = JSON.parse(readFileSync(runFile, 'utf8')) as { pid: number; startTime: string };
    // Point the record at a live process that is not the container: our own, with the container's start time.
    writeFileSync(runFile, JSON.stringify({ ...run, pid: process.pid }));
    assert.equal((await driver.status(spec)).state, 'crashed');
    writeFileSync(runFile, JSON.stringify(run));
    assert.equal((await driver.status(spec)).state, 'running');
  });

  test('a worker that died mid-launch (pid not yet recorded): the init is found by init.pid + cgroup, and stops', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    const p = driver.domainPaths(spec.id);
    const run = JSON.parse(readFileSync(p.run, 'utf8')) as { pid: number; startedAt: string };
    const minuteAgo = new Date(Date.now() - 60_000).toISOString();
    writeFileSync(p.run, JSON.stringify({ ...run, pid: 0, startTime: '', startedAt: minuteAgo }));
    assert.deepEqual(await driver.status(spec), { state: 'running', pid: run.pid });
    // A pid file naming a process outside the container's cgroup (a reused pid) is not taken for it.
    writeFileSync(p.pidFile, String(process.pid));
    assert.equal((await driver.status(spec)).state, 'crashed');
    writeFileSync(p.run, JSON.stringify({ ...run, pid: 0, startTime: '', startedAt: new Date().toISOString() }));
    assert.equal((await driver.status(spec)).state, 'unknown', 'a launch under way is not a crash');
    writeFileSync(p.pidFile, String(run.pid));
    await driver.stop(spec, { force: false });
    assert.equal((await driver.status(spec)).state, 'stopped');
    assert.ok(
      await eventually(
        () =>
          !existsSync(`/proc/${run.pid}/status`) || /State:\s+Z/.test(readFileSync(`/proc/${run.pid}/status`, 'utf8')),
      ),
    );
  });

  test('listDomains: ours are managed, a foreign dir in the storage dir is reported unmanaged and left alone', async (t) => {
    const spec = vmSpec();
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    const foreign = join(driver.storageDir, 'someone-elses');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'data'), 'x');
    const domains = await driver.listDomains();
    assert.deepEqual(
      domains.find((d) => d.vmId === spec.id),
      { vmId: spec.id, managed: true, state: 'stopped' },
    );
    const other = domains.find((d) => d.vmId === 'someone-elses');
    assert.equal(other?.managed, false);
    assert.equal(other?.state, 'unknown');
    assert.ok(existsSync(join(foreign, 'data')));
  });
});
