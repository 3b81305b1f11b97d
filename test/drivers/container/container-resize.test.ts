/**
 * Resize on the real container driver: a stopped container started with a new size gets the new
 * cgroup limits (memory, CPU quota) at its launch, and keeps them across a later plain start; its
 * root disk grows at that start. A running one is resized live (resizeLive): limits rewritten both
 * ways, the root disk grown online, as `df /` inside the container shows.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ContainerTestEnv, containerSkipReason, inside, readCgroupFile, vmSpec } from './container-test-env.js';
import type { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
import { canGrowOnline } from '../../../src/drivers/container/disk-image.js';
import type { VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';

const skip = containerSkipReason();

describe('container driver: cold resize through cgroup limits', { skip }, () => {
  const env = new ContainerTestEnv();
  after(() => env.cleanup());
  const driver = env.driver(env.hostId('ct-resize'));

  const limits = (d: ContainerDriver, spec: VmSpec) => {
    const cg = d.cgroups(spec.id);
    assert.ok(cg, 'the running container has cgroups');
    const memory = Number(
      readCgroupFile(cg.memory.dir, cg.memory.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'),
    );
    const quota =
      cg.cpu.version === 1
        ? Number(readCgroupFile(cg.cpu.dir, 'cpu.cfs_quota_us'))
        : Number(readCgroupFile(cg.cpu.dir, 'cpu.max').split(' ')[0]);
    return { memoryMiB: memory / 1024 / 1024, cpuQuotaUs: quota };
  };

  test('started with a new size after a stop: the new limits; a plain start keeps them; shrinking works too', async (t) => {
    const spec = vmSpec({ vcpus: 1, memoryMiB: 48 });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    assert.deepEqual(limits(driver, spec), { memoryMiB: 48, cpuQuotaUs: 100000 });
    await driver.stop(spec, { force: true });

    const bigger = { ...spec, vcpus: 2, memoryMiB: 80 };
    await driver.start(bigger);
    assert.equal((await driver.status(bigger)).state, 'running');
    assert.deepEqual(limits(driver, bigger), { memoryMiB: 80, cpuQuotaUs: 200000 });
    await driver.stop(bigger, { force: true });
    await driver.start(bigger);
    assert.deepEqual(limits(driver, bigger), { memoryMiB: 80, cpuQuotaUs: 200000 });
    await driver.stop(bigger, { force: true });

    const smaller = { ...spec, vcpus: 1, memoryMiB: 32 };
    await driver.start(smaller);
    assert.deepEqual(limits(driver, smaller), { memoryMiB: 32, cpuQuotaUs: 100000 });
  });

  /** The size of `/` as the container sees it, in KiB (busybox df). */
  const rootKiB = (d: ContainerDriver, spec: VmSpec): number => {
    const pid = d.initPid(spec.id);
    assert.ok(pid, 'the container runs');
    const line = inside(pid, 'df -k /').trim().split('\n').pop() ?? '';
    return Number(line.trim().split(/\s+/)[1]);
  };
  const GIB_KIB = 1024 * 1024;

  test('cold: a stopped container started with a larger diskGiB has a larger root filesystem', async (t) => {
    const spec = vmSpec({ diskGiB: 1 });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    const before = rootKiB(driver, spec);
    assert.ok(before < GIB_KIB, `1 GiB disk: ${before} KiB`);
    await driver.stop(spec, { force: true });
    await driver.start({ ...spec, diskGiB: 2 });
    const grown = rootKiB(driver, spec);
    assert.ok(grown > 1.5 * GIB_KIB && grown <= 2 * GIB_KIB, `2 GiB disk: ${grown} KiB`);
    // Asking for less never shrinks it.
    await driver.stop(spec, { force: true });
    await driver.start({ ...spec, diskGiB: 1 });
    assert.equal(rootKiB(driver, spec), grown);
  });

  test('live: limits up and down, the disk grown online where the kernel lets this process; the same init all along; a redelivery is a success', async (t) => {
    const spec = vmSpec({ vcpus: 1, memoryMiB: 48, diskGiB: 1 });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await driver.start(spec);
    const pid = driver.initPid(spec.id);
    const before = rootKiB(driver, spec);
    // The capability the host declares (capabilities.hotResize.diskGrow) says which way this goes.
    assert.equal(driver.capabilities.hotResize?.diskGrow, canGrowOnline());
    if (canGrowOnline()) {
      await driver.resizeLive(spec, { vcpus: 2, memoryMiB: 96, diskGiB: 2 });
      assert.ok(rootKiB(driver, spec) > 1.5 * GIB_KIB, 'grown online to 2 GiB');
    } else {
      await assert.rejects(driver.resizeLive(spec, { vcpus: 2, memoryMiB: 96, diskGiB: 2 }), {
        code: 'unsupported',
        message: /CAP_SYS_RESOURCE/,
      });
      assert.deepEqual(limits(driver, spec), { memoryMiB: 48, cpuQuotaUs: 100000 }, 'nothing changed');
      assert.equal(rootKiB(driver, spec), before);
      await driver.resizeLive(spec, { vcpus: 2, memoryMiB: 96, diskGiB: 1 });
    }
    const disk = canGrowOnline() ? 2 : 1;
    assert.deepEqual(limits(driver, spec), { memoryMiB: 96, cpuQuotaUs: 200000 });
    assert.equal(driver.initPid(spec.id), pid, 'not restarted');
    await driver.resizeLive(spec, { vcpus: 2, memoryMiB: 96, diskGiB: disk });
    assert.deepEqual(limits(driver, spec), { memoryMiB: 96, cpuQuotaUs: 200000 });

    await driver.resizeLive(
      { ...spec, vcpus: 2, memoryMiB: 96, diskGiB: disk },
      { vcpus: 1, memoryMiB: 32, diskGiB: disk },
    );
    assert.deepEqual(limits(driver, spec), { memoryMiB: 32, cpuQuotaUs: 100000 });
    // The stored spec took the new size: a restart (with the spec the control plane then has) launches with it.
    await driver.stop(spec, { force: true });
    await driver.start({ ...spec, vcpus: 1, memoryMiB: 32, diskGiB: disk });
    assert.deepEqual(limits(driver, spec), { memoryMiB: 32, cpuQuotaUs: 100000 });
  });

  test('live refusals: a stopped container (conflict), a disk shrink and a non-integer size (invalid)', async (t) => {
    const spec = vmSpec({ diskGiB: 2 });
    await driver.define(spec);
    t.after(() => driver.destroy(spec));
    await assert.rejects(driver.resizeLive(spec, { vcpus: 1, memoryMiB: 64, diskGiB: 2 }), { code: 'conflict' });
    await driver.start(spec);
    await assert.rejects(driver.resizeLive(spec, { vcpus: 1, memoryMiB: 64, diskGiB: 1 }), {
      code: 'invalid',
      message: /only grows/,
    });
    await assert.rejects(driver.resizeLive(spec, { vcpus: 1.5, memoryMiB: 64, diskGiB: 2 }), /invalid vcpus/);
    assert.deepEqual(limits(driver, spec), { memoryMiB: 64, cpuQuotaUs: 100000 }, 'nothing changed');
  });
});
