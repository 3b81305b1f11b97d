import { DriverError } from '../hypervisor-driver.port.js';
import { assertSpecSizes } from '../kit/safe-name.js';
import { withFileLock } from '../kit/file-lock.js';
import { writeJsonAtomic } from '../kit/vm-files.js';
import { writeLimits, type CgroupPlan } from './container-cgroups.js';
import type { ContainerDomain } from './container-domain.js';
import { canGrowOnline, diskImageGiB, growDiskImage } from './disk-image.js';

const MIB = 1024 * 1024;

/**
 * Resizes a running (or paused) container in place: its memory and CPU cgroup limits are
 * rewritten (both ways: a container has no ceiling of its own), and its root disk image grows
 * online (never shrinks) where this process has CAP_SYS_RESOURCE (else `unsupported`, nothing changed). Memory goes first: a limit below what the container uses is refused by
 * the kernel and nothing has changed; should the CPU limit then fail, the memory limit is put back.
 * The stored spec takes the new size, so the next start launches with it. Idempotent: a container
 * already at `to` is rewritten with the same values.
 */
export async function resizeContainerLive(
  dom: ContainerDomain,
  to: { vcpus: number; memoryMiB: number; diskGiB: number },
): Promise<void> {
  // Numbers only reach cgroup files and argv, and only as validated integers.
  assertSpecSizes(to);
  if (!Number.isSafeInteger(to.diskGiB)) throw new DriverError('invalid', `invalid diskGiB ${to.diskGiB}`);
  const stored = dom.requireSpec();
  const run = dom.requireLive('resize');
  if (to.diskGiB < stored.diskGiB) {
    throw new DriverError(
      'invalid',
      `the disk of ${dom.vmId} only grows (it has ${stored.diskGiB} GiB, asked ${to.diskGiB})`,
    );
  }
  const grow = to.diskGiB > diskImageGiB(dom.paths.diskImage);
  if (grow && !canGrowOnline()) {
    throw new DriverError(
      'unsupported',
      `cannot grow the disk of running ${dom.vmId}: this worker lacks CAP_SYS_RESOURCE (an online ext4 resize); stop it first`,
    );
  }
  const before = { memoryBytes: stored.memoryMiB * MIB, cpus: stored.vcpus };
  try {
    writeLimits(run.cgroups, { memoryBytes: to.memoryMiB * MIB, cpus: to.vcpus });
  } catch (err) {
    putBack(run.cgroups, before);
    throw err;
  }
  if (grow) {
    try {
      await withFileLock(dom.paths.diskLock, () => growDiskImage(dom.paths.diskImage, dom.paths.disk, to.diskGiB));
    } catch (err) {
      // The disk stays as it was (or grew, which a retry finishes): the limits go back with it.
      putBack(run.cgroups, before);
      throw err;
    }
  }
  writeJsonAtomic(dom.paths.spec, { ...stored, vcpus: to.vcpus, memoryMiB: to.memoryMiB, diskGiB: to.diskGiB });
}

/** Best effort: the failure being reported matters more than one of putting the old limits back. */
function putBack(plan: CgroupPlan, limits: { memoryBytes: number; cpus: number }): void {
  try {
    writeLimits(plan, limits);
  } catch {
    // the reported error says what failed; the limits are what the cgroup files show
  }
}
