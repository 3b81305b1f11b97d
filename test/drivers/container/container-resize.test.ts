/**
 * Resize on the real container driver: a stopped container started with a new size gets the new
 * cgroup limits (memory, CPU quota) at its launch, and keeps them across a later plain start.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ContainerTestEnv, containerSkipReason, readCgroupFile, vmSpec } from './container-test-env.js';
import type { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
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
});
