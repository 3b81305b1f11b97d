import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { tempDir } from '../../support/env.js';
import { containerSkipReason, removeHostCgroups } from './container-test-env.js';
import { assertAccepted, getVm, runOk, vmEvents, waitUntil, type Json } from '../../support/e2e.js';

const skip = containerSkipReason();

describe('e2e: a container VM through the real app (host driver `container`, real namespaces)', { skip }, () => {
  let t: TestApp;
  const storage = tempDir('vl-ct-e2e-');
  const hostId = `cte2e-${randomUUID().slice(0, 8)}`;
  const uri = `container:///?storage=${storage.dir}&stopTimeoutMs=3000`;

  before(async () => {
    t = await startTestApp({ env: { RECONCILE_INTERVAL_MS: '1000' } });
    const res = await t.as('admin').post('/v1/hosts', {
      id: hostId,
      name: 'containers',
      driver: 'container',
      uri,
      capacity: { vcpus: 4, memoryMiB: 1024 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });

  after(async () => {
    await t?.close();
    // Whatever a failed test left running: destroy it through a driver on the same storage.
    const d = new ContainerDriver({ id: hostId, driver: 'container', uri, storageDir: storage.dir });
    for (const dom of await d.listDomains()) {
      if (dom.managed) await d.destroy({ id: dom.vmId, name: dom.vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    }
    await removeHostCgroups(hostId);
    storage.cleanup();
  });

  async function domain(vmId: string): Promise<Json | undefined> {
    const res = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.items as Json[]).find((d) => d.vmId === vmId);
  }

  test('create (starts it), snapshot, refuse what it cannot do with 422, pause, stop, a crash seen by reconciliation, delete', async () => {
    const created = await t.as('operator').post('/v1/vms', {
      name: 'ct-web',
      vcpus: 1,
      memoryMiB: 64,
      diskGiB: 1,
      hostId,
    });
    const { vmId, operationId } = assertAccepted(created);
    const op = await waitOperation(t, operationId, 30_000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    assert.equal((await getVm(t, vmId)).state, 'running');

    // What really runs: an init that is PID 1 of its own namespace, with the VM's name as hostname.
    const running = await domain(vmId);
    assert.equal(running?.managed, true);
    assert.equal(running?.state, 'running');
    const pid = running?.pid as number;
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /NSpid:\s+\d+\s+1\n/);
    assert.notEqual(readFileSync(`/proc/${pid}/cmdline`, 'utf8').length, 0, 'a live process, not a leftover record');
    const paths = new ContainerDriver({ id: hostId, driver: 'container', uri, storageDir: storage.dir }).domainPaths(
      vmId,
    );
    assert.ok(existsSync(join(paths.rootfs, 'bin', 'busybox')), 'the root filesystem is in the mounted disk');

    await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 'first', memory: false });
    const snaps = await t.as('viewer').get(`/v1/vms/${vmId}/snapshots`);
    assert.equal(snaps.status, 200);
    assert.deepEqual(
      (snaps.body.items as Json[]).map((s: Json) => s.name),
      ['first'],
    );
    assert.ok(existsSync(join(storage.dir, vmId, 'snapshots', 'first', 'rootfs', 'bin', 'busybox')));
    assert.equal((await domain(vmId))?.pid, pid, 'the snapshot froze and thawed the same container');

    // Capabilities the driver does not declare are refused before any event is written.
    const memSnap = await t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: 'mem', memory: true });
    assert.equal(memSnap.status, 422, JSON.stringify(memSnap.body));

    await runOk(t, 'post', `/v1/vms/${vmId}/pause`);
    assert.equal((await domain(vmId))?.state, 'paused');
    await runOk(t, 'post', `/v1/vms/${vmId}/resume`);
    await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: false });
    assert.equal((await getVm(t, vmId)).state, 'stopped');
    assert.equal((await domain(vmId))?.state, 'stopped');

    // Killed from outside: the worker's reconciliation notices and records it.
    await runOk(t, 'post', `/v1/vms/${vmId}/start`);
    const pid2 = (await domain(vmId))?.pid as number;
    process.kill(pid2, 'SIGKILL');
    await waitUntil('the VM marked crashed after the kill', async () => (await getVm(t, vmId)).state === 'crashed');
    assert.ok((await vmEvents(t, vmId)).some((e) => e.type === 'VmCrashed'));

    await runOk(t, 'delete', `/v1/vms/${vmId}`);
    assert.equal((await getVm(t, vmId)).state, 'deleted');
    assert.equal(existsSync(join(storage.dir, vmId)), false, 'rootfs and snapshots removed');
    assert.equal(await domain(vmId), undefined);
  });
});
