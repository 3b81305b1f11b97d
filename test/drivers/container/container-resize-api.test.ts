/**
 * Live resize through the API onto the real container driver (real BullMQ workers, runc, cgroups,
 * a loop-mounted ext4 root disk): PATCH /v1/vms/{id} with If-Match on a running container answers
 * 202 with a `resize` operation; once it succeeds the container's cgroup limits and `df /` inside it
 * show the new size, the VM view and the host's allocation too. Memory then shrinks live. Refusals
 * (no room on the host, a stale ETag, a disk shrink) append nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
import { logLength, settledLogLength, startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { tempDir } from '../../support/env.js';
import { containerSkipReason, inside, readCgroupFile, removeHostCgroups } from './container-test-env.js';
import { assertAccepted, assertError, createVmOp, getHost, getVm, runOk, waitAllocated } from '../../support/e2e.js';
import { canGrowOnline } from '../../../src/drivers/container/disk-image.js';

const skip = containerSkipReason();

describe('e2e: live resize of a running container (real runc, cgroups, ext4 grown online)', { skip }, () => {
  let t: TestApp;
  const storage = tempDir('vl-ct-rsz-');
  const hostId = `ctrsz-${randomUUID().slice(0, 8)}`;
  const uri = `container:///?storage=${storage.dir}&stopTimeoutMs=3000`;
  const driver = () => new ContainerDriver({ id: hostId, driver: 'container', uri, storageDir: storage.dir });

  before(async () => {
    t = await startTestApp();
    const res = await t.as('admin').post('/v1/hosts', {
      id: hostId,
      name: 'containers',
      driver: 'container',
      uri,
      // Room for 160 MiB: the VM's memory ceiling (4 × 64 = 256) is above it, so the host refuses first.
      capacity: { vcpus: 4, memoryMiB: 160 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.capabilities.hotResize, { vcpus: 'any', memory: 'any', diskGrow: canGrowOnline() });
  });

  after(async () => {
    await t?.close();
    const d = driver();
    for (const dom of await d.listDomains()) {
      if (dom.managed) await d.destroy({ id: dom.vmId, name: dom.vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    }
    await removeHostCgroups(hostId);
    storage.cleanup();
  });

  const etagOf = async (vmId: string) => (await t.as('viewer').get(`/v1/vms/${vmId}`)).headers.etag as string;
  const patch = async (vmId: string, body: object, etag?: string) =>
    t
      .as('operator')
      .patch(`/v1/vms/${vmId}`, body)
      .set('If-Match', etag ?? (await etagOf(vmId)));

  /** What the container's cgroups hold, read on the host. */
  const cgroupLimits = (vmId: string) => {
    const cg = driver().cgroups(vmId);
    assert.ok(cg, 'the running container has cgroups');
    const memory = Number(
      readCgroupFile(cg.memory.dir, cg.memory.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'),
    );
    const quota =
      cg.cpu.version === 1
        ? Number(readCgroupFile(cg.cpu.dir, 'cpu.cfs_quota_us'))
        : Number(readCgroupFile(cg.cpu.dir, 'cpu.max').split(' ')[0]);
    return { memoryMiB: memory / 1024 / 1024, cpus: quota / 100_000 };
  };
  /** `df -k /` inside the container: its root filesystem's size in KiB. */
  const rootKiB = (vmId: string): number => {
    const pid = driver().initPid(vmId);
    assert.ok(pid, 'the container runs');
    const line = inside(pid, 'df -k /').trim().split('\n').pop() ?? '';
    return Number(line.trim().split(/\s+/)[1]);
  };
  const GIB_KIB = 1024 * 1024;

  test('grow vCPUs, memory and disk live, then shrink memory live; every refusal appends nothing', async () => {
    const { accepted, operation } = await createVmOp(t, {
      name: 'ct-rsz',
      hostId,
      vcpus: 1,
      memoryMiB: 64,
      diskGiB: 1,
    });
    assert.equal(operation.status, 'succeeded', JSON.stringify(operation));
    const { vmId } = accepted;
    const vm = await getVm(t, vmId);
    assert.equal(vm.state, 'running');
    assert.deepEqual([vm.maxVcpus, vm.maxMemoryMiB], [4, 256], 'default ceilings: 4 × the size');
    const pid = driver().initPid(vmId);
    assert.ok(rootKiB(vmId) < GIB_KIB);

    // The root disk grows live only where the worker may resize a mounted ext4 (CAP_SYS_RESOURCE);
    // the host's recorded capability says which, and the API decides on it up front.
    const diskGrow = (await getHost(t, hostId)).capabilities.hotResize.diskGrow as boolean;
    assert.equal(diskGrow, canGrowOnline());
    let disk = 1;
    if (diskGrow) {
      disk = 2;
    } else {
      const before = await settledLogLength(t);
      assertError(
        await patch(vmId, { vcpus: 2, memoryMiB: 128, diskGiB: 2 }),
        422,
        /^diskGiB: .*cannot grow the disk of a running VM/,
      );
      assert.equal(await logLength(t), before, 'nothing appended');
    }
    const grown = await patch(vmId, { vcpus: 2, memoryMiB: 128, diskGiB: disk });
    const op = await waitOperation(t, assertAccepted(grown, vmId).operationId, 60_000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    assert.equal(op.kind, 'resize');
    assert.deepEqual(cgroupLimits(vmId), { memoryMiB: 128, cpus: 2 });
    if (diskGrow) {
      const kib = rootKiB(vmId);
      assert.ok(kib > 1.5 * GIB_KIB && kib <= 2 * GIB_KIB, `df / inside shows 2 GiB: ${kib} KiB`);
    }
    assert.equal(driver().initPid(vmId), pid, 'the same container, never restarted');
    const after1 = await getVm(t, vmId);
    assert.deepEqual(
      [after1.state, after1.vcpus, after1.memoryMiB, after1.diskGiB, after1.pendingOperation],
      ['running', 2, 128, disk, null],
    );
    await waitAllocated(t, hostId, { vcpus: 2, memoryMiB: 128 });

    const shrunk = await patch(vmId, { memoryMiB: 48 });
    const op2 = await waitOperation(t, assertAccepted(shrunk, vmId).operationId, 60_000);
    assert.equal(op2.status, 'succeeded', JSON.stringify(op2));
    assert.deepEqual(cgroupLimits(vmId), { memoryMiB: 48, cpus: 2 });
    assert.equal((await getVm(t, vmId)).memoryMiB, 48);
    await waitAllocated(t, hostId, { vcpus: 2, memoryMiB: 48 });

    const before = await settledLogLength(t);
    // 200 MiB is within the VM's ceiling (256) but not the host's 160.
    assertError(await patch(vmId, { memoryMiB: 200 }), 409, /containers|ctrsz-/);
    assertError(await patch(vmId, { memoryMiB: 64 }, '"1"'), 412);
    assertError(await patch(vmId, { diskGiB: disk - 1 || 0 }), 400, 'diskGiB');
    assert.equal(await logLength(t), before, 'nothing appended by a refusal');
    assert.deepEqual((await getHost(t, hostId)).allocated, { vcpus: 2, memoryMiB: 48 }, 'the reservation untouched');
    assert.deepEqual(cgroupLimits(vmId), { memoryMiB: 48, cpus: 2 });
  });

  test('cold: a stopped container resized to a larger diskGiB starts on a larger root filesystem', async () => {
    const { accepted } = await createVmOp(t, { name: 'ct-cold', hostId, vcpus: 1, memoryMiB: 32, diskGiB: 1 });
    const { vmId } = accepted;
    await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
    const resized = await patch(vmId, { diskGiB: 2 });
    assert.equal((await waitOperation(t, assertAccepted(resized, vmId).operationId)).status, 'succeeded');
    await runOk(t, 'post', `/v1/vms/${vmId}/start`);
    const kib = rootKiB(vmId);
    assert.ok(kib > 1.5 * GIB_KIB && kib <= 2 * GIB_KIB, `df / inside shows 2 GiB: ${kib} KiB`);
    assert.equal((await getVm(t, vmId)).diskGiB, 2);
    const before = await settledLogLength(t);
    assertError(await patch(vmId, { diskGiB: 1 }), 400, /^diskGiB: a disk only grows \(it has 2 GiB, asked 1\)/);
    assert.equal(await logLength(t), before, 'nothing appended');
    await runOk(t, 'delete', `/v1/vms/${vmId}`);
  });
});
