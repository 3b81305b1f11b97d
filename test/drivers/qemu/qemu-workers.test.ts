import assert from 'node:assert/strict';
import { waitUntil } from '../../support/e2e.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { vmPaths } from '../../../src/drivers/kit/vm-files.js';
import { ensureGuest, guestDir, GuestConsole, waitForLog } from './guest-console.js';
import { tempDir, testRedisUrl } from '../../support/env.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../../src/main.js');
const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/** PIDs of qemu processes whose command line names this VM. */
function qemuPids(vmId: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(vmId)) pids.push(Number(d));
    } catch {
      // gone
    }
  }
  return pids;
}

describe(
  'qemu hosts served by separate worker processes (real QEMU under TCG)',
  { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' },
  () => {
    let t: TestApp;
    const dirs: Array<{ dir: string; cleanup: () => void }> = [];
    const workers: ChildProcess[] = [];
    const vmIds: string[] = [];
    const h1 = `qh1-${randomUUID().slice(0, 8)}`;
    const h2 = `qh2-${randomUUID().slice(0, 8)}`;
    const storage = new Map<string, string>();

    function startWorker(hostId: string): ChildProcess {
      const data = tempDir('vl-worker-');
      dirs.push(data);
      const child = spawn(process.execPath, [MAIN, '--role', 'worker', '--host', hostId], {
        env: {
          ...process.env,
          REDIS_URL: testRedisUrl(),
          REDIS_PREFIX: t.redisPrefix,
          DATA_DIR: data.dir,
          LOG_LEVEL: 'warn',
          RECONCILE_INTERVAL_MS: '1000',
          JOB_BACKOFF_MS: '100',
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      workers.push(child);
      return child;
    }

    before(async () => {
      // The API process runs no worker: each host's jobs go to its own worker process.
      t = await startTestApp({ env: { ROLE: 'api' } });
      for (const [id, name] of [
        [h1, 'qemu-a'],
        [h2, 'qemu-b'],
      ] as const) {
        const dir = tempDir('vl-qemu-');
        dirs.push(dir);
        storage.set(id, dir.dir);
        const res = await t.as('admin').post('/v1/hosts', {
          id,
          name,
          driver: 'qemu',
          // The guest's folder is the hosts' image catalog: the last test boots it.
          uri: `qemu:///system?storage=${dir.dir}&images=${dirname(guestDir())}&stopTimeoutMs=2000&accel=tcg`,
          capacity: { vcpus: 8, memoryMiB: 4096 },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        startWorker(id);
      }
    });

    after(async () => {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => new Promise((r) => (w.exitCode !== null ? r(null) : w.once('exit', r)))));
      for (const id of vmIds) for (const pid of qemuPids(id)) process.kill(pid, 'SIGKILL');
      await t.close();
      for (const d of dirs) d.cleanup();
    });

    test('create, migrate live to the other host and back, snapshot, crash detection, delete', async () => {
      const create = await t
        .as('operator')
        .post('/v1/vms', { name: 'mig', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId: h1 });
      assert.equal(create.status, 202);
      const vmId = create.body.vmId as string;
      vmIds.push(vmId);
      const op = await waitOperation(t, create.body.operationId, 60000);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      assert.equal(qemuPids(vmId).length, 1, 'one qemu process runs the VM');

      const domains = await t.as('operator').get(`/v1/hosts/${h1}/domains`);
      assert.equal(domains.status, 200);
      assert.ok(
        domains.body.items.some(
          (d: { vmId: string; state: string; managed: boolean }) =>
            d.vmId === vmId && d.managed && d.state === 'running',
        ),
      );

      for (const [target, source] of [
        [h2, h1],
        [h1, h2],
      ] as const) {
        const mig = await t.as('operator').post(`/v1/vms/${vmId}/migrations`, { targetHostId: target, live: true });
        assert.equal(mig.status, 202, JSON.stringify(mig.body));
        const done = await waitOperation(t, mig.body.operationId, 90000);
        assert.equal(done.status, 'succeeded', JSON.stringify(done));
        const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
        assert.equal(vm.body.state, 'running');
        assert.equal(vm.body.hostId, target);
        await waitUntil('source process gone', async () => (qemuPids(vmId).length === 1 ? true : undefined));
        const onTarget = await t.as('operator').get(`/v1/hosts/${target}/domains`);
        assert.ok(
          onTarget.body.items.some(
            (d: { vmId: string; state: string; managed: boolean }) =>
              d.vmId === vmId && d.managed && d.state === 'running',
          ),
        );
        const onSource = await t.as('operator').get(`/v1/hosts/${source}/domains`);
        assert.ok(
          // Both hosts share this machine, so the source sees the target's process, but only as unmanaged.
          !onSource.body.items.some(
            (d: { vmId: string; state: string; managed: boolean }) =>
              d.vmId === vmId && d.managed && d.state === 'running',
          ),
          JSON.stringify(onSource.body),
        );
        const hosts = await t.as('viewer').get('/v1/hosts');
        const alloc = Object.fromEntries(
          hosts.body.items.map((h: { id: string; allocated: { vcpus: number } }) => [h.id, h.allocated.vcpus]),
        );
        await waitUntil('source capacity released', async () => {
          const hs = await t.as('viewer').get(`/v1/hosts/${source}`);
          return hs.body.allocated.vcpus === 0 ? true : undefined;
        });
        assert.equal(alloc[target], 1);
      }

      const events = await t.as('auditor').get(`/v1/vms/${vmId}/events`);
      const types = events.body.items.map((e: { type: string }) => e.type);
      assert.equal(types.filter((x: string) => x === 'VmMigrated').length, 2);

      const snap = await t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: 's1', memory: true });
      assert.equal((await waitOperation(t, snap.body.operationId, 60000)).status, 'succeeded');
      const revert = await t.as('operator').post(`/v1/vms/${vmId}/snapshots/s1/revert`);
      assert.equal((await waitOperation(t, revert.body.operationId, 60000)).status, 'succeeded');
      assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.state, 'running');

      // Kill QEMU behind the service's back: the worker's sweep reports it and the VM reads crashed.
      for (const pid of qemuPids(vmId)) process.kill(pid, 'SIGKILL');
      await waitUntil('VmCrashed', async () => {
        const r = await t.as('viewer').get(`/v1/vms/${vmId}`);
        return r.body.state === 'crashed' ? true : undefined;
      });
      const after = await t.as('auditor').get(`/v1/vms/${vmId}/events`);
      assert.equal(after.body.items.filter((e: { type: string }) => e.type === 'VmCrashed').length, 1);

      const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
      assert.equal((await waitOperation(t, del.body.operationId, 60000)).status, 'succeeded');
      assert.deepEqual(qemuPids(vmId), []);
    });

    test('a real Linux guest keeps its memory across a live migration and a snapshot revert, and stops through ACPI', async () => {
      const guest = ensureGuest();
      const create = await t
        .as('operator')
        .post('/v1/vms', { name: 'guest', vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId: h1, image: guest.image });
      assert.equal(create.status, 202, JSON.stringify(create.body));
      const vmId = create.body.vmId as string;
      vmIds.push(vmId);
      assert.equal((await waitOperation(t, create.body.operationId, 60000)).status, 'succeeded');
      const onA = vmPaths(storage.get(h1)!, h1, vmId);
      await waitForLog(onA.serialLog, 'GUEST-READY', 90000);
      const a = await GuestConsole.connect(onA.serialSocket);
      try {
        await a.run('echo 41 > /tmp/counter');
        assert.equal(await a.run('cat /tmp/counter'), '41');
      } finally {
        a.close();
      }

      const mig = await t.as('operator').post(`/v1/vms/${vmId}/migrations`, { targetHostId: h2, live: true });
      assert.equal((await waitOperation(t, mig.body.operationId, 120000)).status, 'succeeded');
      const onB = vmPaths(storage.get(h2)!, h2, vmId);
      const b = await GuestConsole.connect(onB.serialSocket);
      try {
        assert.equal(await b.run('cat /tmp/counter'), '41', 'guest RAM arrived on the target host');
        const snap = await t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: 'at41', memory: true });
        assert.equal((await waitOperation(t, snap.body.operationId, 60000)).status, 'succeeded');
        await b.run('echo 42 > /tmp/counter');
        assert.equal(await b.run('cat /tmp/counter'), '42');
        const revert = await t.as('operator').post(`/v1/vms/${vmId}/snapshots/at41/revert`);
        assert.equal((await waitOperation(t, revert.body.operationId, 60000)).status, 'succeeded');
      } finally {
        b.close();
      }
      const b2 = await GuestConsole.connect(onB.serialSocket);
      try {
        assert.equal(await b2.run('cat /tmp/counter'), '41', 'the revert brought back the snapshot memory');
      } finally {
        b2.close();
      }

      // A long graceful timeout: only ACPI can end it quickly; the driver records how the VM stopped.
      const stop = await t.as('operator').post(`/v1/vms/${vmId}/stop`, { force: false, timeoutMs: 60000 });
      assert.equal((await waitOperation(t, stop.body.operationId, 90000)).status, 'succeeded');
      assert.match(readFileSync(onB.stoppedMarker, 'utf8'), /acpi/);
      assert.deepEqual(qemuPids(vmId), []);
    });
  },
);
