/**
 * Volumes on a container host (real runc, namespaces): a volume is a directory on the host,
 * bind-mounted at /mnt/<volume name> when the container starts. runc cannot add a mount to a
 * running container, so attach and detach while it runs are refused up front (409, nothing
 * recorded); stopped, they are recorded and take effect at the next start.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
import { startTestApp, type TestApp } from '../../support/app.js';
import { tempDir } from '../../support/env.js';
import { containerSkipReason, removeHostCgroups } from './container-test-env.js';
import { createVmOp, runOk, storeEvents, type Json } from '../../support/e2e.js';
import { attachOk, createVolume, detachOk, volumeOp } from '../../support/volumes.js';

const skip = containerSkipReason();

describe('e2e: volumes on a container host (bind mounts, real runc)', { skip }, () => {
  let t: TestApp;
  const storage = tempDir('vl-ct-vol-');
  const hostId = `ctvol-${randomUUID().slice(0, 8)}`;
  const uri = `container:///?storage=${storage.dir}&stopTimeoutMs=3000`;

  before(async () => {
    t = await startTestApp();
    const res = await t.as('admin').post('/v1/hosts', {
      id: hostId,
      name: 'containers',
      driver: 'container',
      uri,
      capacity: { vcpus: 4, memoryMiB: 1024, diskGiB: 20 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });

  after(async () => {
    await t?.close();
    const d = new ContainerDriver({ id: hostId, driver: 'container', uri, storageDir: storage.dir });
    for (const dom of await d.listDomains()) {
      if (dom.managed) await d.destroy({ id: dom.vmId, name: dom.vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    }
    await removeHostCgroups(hostId);
    storage.cleanup();
  });

  async function initPid(vmId: string): Promise<number> {
    const res = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
    const dom = (res.body.items as Json[]).find((d) => d.vmId === vmId);
    assert.equal(dom?.state, 'running', JSON.stringify(res.body));
    return dom?.pid as number;
  }

  test('cold attach: refused while running, bound at /mnt/<name> at the next start, gone after a detach', async () => {
    const volumeId = await createVolume(t, { name: 'data', sizeGiB: 1, hostId });
    const dir = join(storage.dir, 'volumes', volumeId);
    assert.ok(statSync(dir).isDirectory());
    assert.equal(statSync(dir).uid, 100000, "owned by the container's mapped root");

    const vmId = (await createVmOp(t, { name: 'ct-vol', hostId })).accepted.vmId;
    const before = (await storeEvents(t)).length;
    const refused = await t.as('operator').post(`/v1/vms/${vmId}/volumes`, { volumeId });
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.match(refused.body.message as string, /while the VM runs \(cold only\): stop VM .* first/);
    assert.equal((await storeEvents(t)).length, before, 'nothing recorded');

    await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
    await attachOk(t, vmId, volumeId);
    await runOk(t, 'post', `/v1/vms/${vmId}/start`);
    writeFileSync(join(dir, 'hello'), 'from the host\n');
    const pid = await initPid(vmId);
    // The container's own mount namespace, seen through its init's root.
    assert.equal(readFileSync(`/proc/${pid}/root/mnt/data/hello`, 'utf8'), 'from the host\n');
    const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    assert.match(mounts, / \/mnt\/data /, 'a mount at /mnt/data inside the container');

    await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
    await detachOk(t, vmId, volumeId);
    await runOk(t, 'post', `/v1/vms/${vmId}/start`);
    const pid2 = await initPid(vmId);
    assert.doesNotMatch(readFileSync(`/proc/${pid2}/mountinfo`, 'utf8'), / \/mnt\/data /);

    await runOk(t, 'delete', `/v1/vms/${vmId}`);
    const del = await volumeOp(t, 'delete', `/v1/volumes/${volumeId}`);
    assert.equal(del.operation.status, 'succeeded', JSON.stringify(del.operation));
    assert.equal(existsSync(dir), false);
  });

  test('a container with a volume: migration and snapshots are refused up front (its volumes would stay behind)', async () => {
    const other = `ctvol2-${randomUUID().slice(0, 8)}`;
    const reg = await t.as('admin').post('/v1/hosts', {
      id: other,
      name: 'containers-2',
      driver: 'container',
      uri: `container:///?storage=${storage.dir}/other&stopTimeoutMs=3000`,
      capacity: { vcpus: 4, memoryMiB: 1024, diskGiB: 20 },
    });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    const volumeId = await createVolume(t, { name: 'kept', sizeGiB: 1, hostId });
    const vmId = (await createVmOp(t, { name: 'ct-vol-move', hostId, volumes: [volumeId] })).accepted.vmId;
    const before = (await storeEvents(t)).length;
    for (const live of [true, false]) {
      if (!live) await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
      const mig = await t.as('operator').post(`/v1/vms/${vmId}/migrations`, { targetHostId: other, live });
      assert.equal(mig.status, 409, JSON.stringify(mig.body));
      assert.match(
        mig.body.message as string,
        new RegExp(`volumes attached \\(${volumeId}\\): a container VM's migration`),
      );
    }
    const snap = await t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: 's1', memory: false });
    assert.equal(snap.status, 422, JSON.stringify(snap.body));
    assert.match(snap.body.message as string, /its snapshot would hold its root filesystem only/);
    const appended = (await storeEvents(t)).slice(before).map((e) => e.type);
    assert.deepEqual(
      appended.filter((type) => /Migrat|Snapshot/.test(type)),
      [],
      `no migration or snapshot was recorded: ${appended.join(', ')}`,
    );
  });
});
