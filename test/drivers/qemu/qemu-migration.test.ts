import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Progress } from '../../../src/drivers/hypervisor-driver.port.js';
import { listQemuProcesses, sendSignal } from '../../../src/drivers/qemu/qemu-process.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp.client.js';
import type { QmpStatusInfo } from '../../../src/drivers/qemu/qmp.types.js';
import { waitFor } from '../../support/wait.js';
import { QemuTestEnv, hasPattern, vmSpec, writePattern } from './qemu-test-env.js';
import { driverError } from '../../support/driver-error.js';

/** A port nobody listens on (bound once, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

describe('qemu driver: migration between two driver instances (real qemu, no-OS VMs)', () => {
  const env = new QemuTestEnv();
  after(() => env.cleanup());
  const a = env.driver('host-a');
  const b = env.driver('host-b');

  test('live, separate storage dirs: NBD mirror + migrate; data arrives, source files go, retries are no-ops', async () => {
    const spec = vmSpec();
    await a.define(spec);
    writePattern(a.domainPaths(spec.id).disk, 0xab, 1024 * 1024);
    await a.start(spec);

    const t0 = Date.now();
    const endpoint = await b.prepareIncoming(spec, { live: true });
    assert.equal(endpoint.shared, false);
    assert.ok(Number(endpoint.nbdPort) > 0);
    assert.deepEqual(await b.prepareIncoming(spec, { live: true }), endpoint, 'a retried prepare answers the same');
    assert.equal((await b.status(spec)).state, 'migrating');

    const progress: Progress[] = [];
    await a.migrate(spec, endpoint, { live: true }, { onProgress: (p) => progress.push(p) });
    await b.finishIncoming(spec, { live: true });
    const totalMs = Date.now() - t0;

    assert.equal((await b.status(spec)).state, 'running');
    assert.equal((await a.status(spec)).state, 'absent');
    assert.ok(!existsSync(join(a.storageDir, spec.id)), 'source files are removed when storage is not shared');
    assert.ok(progress.some((p) => p.message === 'copying disk'));
    assert.equal(progress.at(-1)?.percent, 100);

    await a.migrate(spec, endpoint, { live: true });
    await b.finishIncoming(spec, { live: true });
    await b.abortIncoming(spec);
    assert.equal((await b.status(spec)).state, 'running', 'abort after finish must leave the VM alone');

    await b.stop(spec, { force: true });
    assert.ok(hasPattern(b.domainPaths(spec.id).disk, 0xab, 1024 * 1024), 'the disk data must reach the target');
    console.log(`[timing] live migration, separate storage (NBD), prepare+migrate+finish: ${totalMs} ms`);
    await b.destroy(spec);
  });

  test('live, shared storage dir: the target opens the same disk; round trip there and back', async () => {
    const c = env.driver('host-c', { storage: 'shared' });
    const d = env.driver('host-d', { storage: 'shared' });
    const spec = vmSpec();
    await c.define(spec);
    await c.start(spec);

    const t0 = Date.now();
    const endpoint = await d.prepareIncoming(spec, { live: true });
    assert.equal(endpoint.shared, true);
    await c.migrate(spec, endpoint, { live: true });
    await d.finishIncoming(spec, { live: true });
    const totalMs = Date.now() - t0;
    // The target's QMP connection, kept open from prepare to finish, is let go: QEMU serves one
    // client at a time, and an operator's tool is greeted again.
    const operator = await QmpClient.connect(d.domainPaths(spec.id).qmpSocket, { connectTimeoutMs: 5_000 });
    assert.equal((await operator.execute<QmpStatusInfo>('query-status')).status, 'running');
    operator.close();
    assert.equal((await d.status(spec)).state, 'running');
    assert.deepEqual(await c.status(spec), { state: 'absent', detail: 'belongs to host host-d (shared storage)' });
    // On this one machine host-d's QEMU is still visible to host-c, but only as a foreign process.
    assert.ok(!(await c.listDomains()).some((dom) => dom.vmId === spec.id && dom.managed));
    await assert.rejects(c.start(spec), driverError('conflict', /belongs to host host-d/));
    await c.destroy(spec); // on the host it left: only that host's leftovers go
    assert.ok(existsSync(c.domainPaths(spec.id).disk), 'a shared disk stays');
    assert.equal(c.domainPaths(spec.id).disk, d.domainPaths(spec.id).disk);
    assert.equal((await d.status(spec)).state, 'running');

    const back = await c.prepareIncoming(spec, { live: true });
    // As the worker does: the target is finished from QEMU's hand-off on, while the source quits.
    const finished: Promise<void>[] = [];
    await d.migrate(
      spec,
      back,
      { live: true },
      { onHandedOff: () => finished.push(c.finishIncoming(spec, { live: true })) },
    );
    assert.equal(finished.length, 1, 'one hand-off, before migrate returned');
    await finished[0];
    assert.equal((await c.status(spec)).state, 'running');
    assert.equal((await d.status(spec)).state, 'absent');
    console.log(`[timing] live migration, shared storage, prepare+migrate+finish: ${totalMs} ms`);
    await c.destroy(spec);
  });

  test('live, shared storage: a disk there that no QEMU holds is refused, left as it was, and no target QEMU stays', async () => {
    const c = env.driver('host-e', { storage: 'shared' });
    const d = env.driver('host-f', { storage: 'shared' });
    const spec = vmSpec();
    await c.define(spec); // defined, never started: its disk is on the shared storage and nobody holds it
    const disk = c.domainPaths(spec.id).disk;
    const before = statSync(disk);

    await assert.rejects(
      d.prepareIncoming(spec, { live: true }),
      driverError('conflict', /already exists on this host and no QEMU holds it/),
    );
    // The target QEMU that started while the disk was being checked is gone again.
    assert.ok(!listQemuProcesses().some((q) => q.name === spec.id), 'no QEMU of this VM runs');
    assert.ok(existsSync(disk), 'the disk stays');
    assert.equal(statSync(disk).mtimeMs, before.mtimeMs, 'the disk is untouched');
    // Nothing of the refused prepare stays behind: the owner starts its VM as before.
    await c.start(spec);
    assert.equal((await c.status(spec)).state, 'running');
    await c.destroy(spec);
  });

  test('an endpoint nobody listens on: migrate fails with QEMU’s reason, the source keeps running', async () => {
    const spec = vmSpec();
    await a.define(spec);
    await a.start(spec);
    const endpoint = await b.prepareIncoming(spec, { live: true });

    const noNbd = { ...endpoint, nbdPort: await closedPort() };
    await assert.rejects(a.migrate(spec, noNbd, { live: true }), driverError('failed', /refused|connect/i));
    assert.equal((await a.status(spec)).state, 'running');

    const noMigration = { ...endpoint, port: await closedPort() };
    let handOffs = 0;
    await assert.rejects(
      a.migrate(spec, noMigration, { live: true }, { onHandedOff: () => handOffs++ }),
      driverError('failed', /refused|connect/i),
    );
    assert.equal(handOffs, 0, 'a failed migration hands nothing off');
    assert.equal((await a.status(spec)).state, 'running');

    await b.abortIncoming(spec);
    assert.equal((await b.status(spec)).state, 'absent');
    assert.ok(!existsSync(join(b.storageDir, spec.id)), 'abortIncoming removes what prepareIncoming made');
    await a.destroy(spec);
  });

  test('the target dies mid-way: migrate fails, the source keeps running, abortIncoming cleans up', async () => {
    // 2 kB/s keeps the RAM copy going long enough to kill the target during it.
    const slow = env.driver('host-slow', { storage: 'shared-slow', params: { migrationBandwidth: '2000' } });
    const target = env.driver('host-t', { storage: 'shared-slow' });
    const spec = vmSpec();
    await slow.define(spec);
    await slow.start(spec);
    const endpoint = await target.prepareIncoming(spec, { live: true });
    const targetPid = (await target.status(spec)).pid;
    assert.ok(targetPid);
    const progress: Progress[] = [];
    const migrating = slow.migrate(spec, endpoint, { live: true }, { onProgress: (p) => progress.push(p) });
    const outcome = assert.rejects(migrating, driverError('failed', /migration failed/));
    await waitFor(() => progress.some((p) => (p.transferredBytes ?? 0) > 0), {
      what: 'the migration to report transferred bytes',
      timeoutMs: 60_000,
    });
    assert.equal((await slow.status(spec)).state, 'migrating');
    sendSignal(targetPid, 'SIGKILL');
    await outcome;
    assert.equal((await slow.status(spec)).state, 'running');
    await target.abortIncoming(spec);
    assert.ok(existsSync(slow.domainPaths(spec.id).disk), 'abort must not delete a shared disk');
    await slow.destroy(spec);
  });

  test('a migration past its timeout or aborted by the caller is cancelled; the source keeps running', async () => {
    const slow = env.driver('host-slow2', {
      storage: 'shared-slow2',
      params: { migrationBandwidth: '2000', migrationTimeoutMs: '700' },
    });
    const target = env.driver('host-t2', { storage: 'shared-slow2' });
    const spec = vmSpec();
    await slow.define(spec);
    await slow.start(spec);

    let endpoint = await target.prepareIncoming(spec, { live: true });
    await assert.rejects(slow.migrate(spec, endpoint, { live: true }), driverError('timeout', /within 700 ms/));
    assert.equal((await slow.status(spec)).state, 'running');
    await target.abortIncoming(spec);

    endpoint = await target.prepareIncoming(spec, { live: true });
    const controller = new AbortController();
    // Cancelled once the migration is under way (its first progress report), not after a time.
    const cancel = () => controller.abort(new Error('operator cancelled'));
    await assert.rejects(
      slow.migrate(spec, endpoint, { live: true }, { signal: controller.signal, onProgress: cancel }),
      driverError('failed', /operator cancelled/),
    );
    assert.equal((await slow.status(spec)).state, 'running');
    await target.abortIncoming(spec);
    await slow.destroy(spec);
  });

  test('a storage migration refuses a disk with internal snapshots (the mirror would drop them)', async () => {
    const spec = vmSpec();
    await a.define(spec);
    await a.start(spec);
    await a.snapshot(spec, 'keep', { memory: false });
    const endpoint = await b.prepareIncoming(spec, { live: true });
    await assert.rejects(a.migrate(spec, endpoint, { live: true }), driverError('conflict', /internal snapshot/));
    assert.equal((await a.status(spec)).state, 'running');
    await b.abortIncoming(spec);
    await a.destroy(spec);
  });

  test('cold migration copies the stopped disk (snapshots included) into the target storage', async () => {
    const spec = vmSpec();
    await a.define(spec);
    writePattern(a.domainPaths(spec.id).disk, 0xcd);
    await a.snapshot(spec, 'before-move', { memory: false });
    const endpoint = await b.prepareIncoming(spec, { live: false });
    await a.migrate(spec, endpoint, { live: false });
    await b.finishIncoming(spec, { live: false });
    assert.equal((await a.status(spec)).state, 'absent');
    assert.equal((await b.status(spec)).state, 'stopped');
    assert.deepEqual(
      (await b.listSnapshots(spec)).map((s) => s.name),
      ['before-move'],
    );
    assert.ok(hasPattern(b.domainPaths(spec.id).disk, 0xcd));
    await b.start(spec);
    assert.equal((await b.status(spec)).state, 'running');
    await assert.rejects(b.migrate(spec, endpoint, { live: true }), driverError('failed', /cold migration/));
    await b.destroy(spec);
  });
});
