import { join } from 'node:path';
import type { CgroupPlan } from './container-cgroups.js';

/**
 * Where one container's files live on one host: `<storage>/<vmId>/` holds everything that
 * belongs to the VM (spec, disk image with the root filesystem, snapshots) plus its run files; a prepared incoming
 * migration waits in `<storage>/.incoming-<vmId>/` until finishIncoming moves it into place.
 */
export interface ContainerPaths {
  vmDir: string;
  spec: string;
  /** The OCI config runc runs the container from (the VM dir is the bundle); rewritten at each start. */
  config: string;
  /** The container's disk: a sparse ext4 image of diskGiB (disk-image.ts)… */
  diskImage: string;
  /** …loop-mounted here (outside the private storage dir: see disk-image.ts); the root filesystem and its in-flight copies live inside it. */
  disk: string;
  /** Held while the disk is made, mounted or unmounted, across worker processes. */
  diskLock: string;
  rootfs: string;
  /** A root filesystem outside a disk image (an older release's, or one a migration just brought): moved into the disk. */
  plainRootfs: string;
  /** A rootfs being built or restored, renamed into place when complete. */
  rootfsNew: string;
  /** The previous rootfs during a revert, until the new one is in place. */
  rootfsOld: string;
  snapshots: string;
  /** Written by the driver at start, removed by a stop: present with a dead init means crashed. */
  run: string;
  /** Written by the container's first process: its host pid. */
  pidFile: string;
  console: string;
  /** A FIFO the init reads as its stdin: the console's input (its output is `console`). */
  consoleIn: string;
  /** Left by finishIncoming until the migrated VM is started where it ran before. */
  migratedIn: string;
  incomingDir: string;
  /** Marks a VM migrated away, so a redelivered migrate of a VM that is gone still succeeds. */
  tombstone: string;
}

export function containerPaths(storageDir: string, vmId: string, diskMounts: string): ContainerPaths {
  const vmDir = join(storageDir, vmId);
  const disk = join(diskMounts, vmId);
  return {
    vmDir,
    spec: join(vmDir, 'spec.json'),
    config: join(vmDir, 'config.json'),
    diskImage: join(vmDir, 'disk.ext4'),
    disk,
    diskLock: join(vmDir, 'disk.lock'),
    rootfs: join(disk, 'rootfs'),
    plainRootfs: join(vmDir, 'rootfs'),
    rootfsNew: join(disk, 'rootfs.new'),
    rootfsOld: join(disk, 'rootfs.old'),
    snapshots: join(vmDir, 'snapshots'),
    run: join(vmDir, 'run.json'),
    pidFile: join(vmDir, 'init.pid'),
    console: join(vmDir, 'console.log'),
    consoleIn: join(vmDir, 'console.in'),
    migratedIn: join(vmDir, 'migrated-in.json'),
    incomingDir: join(storageDir, `.incoming-${vmId}`),
    tombstone: join(storageDir, `.migrated-${vmId}.json`),
  };
}

/** What start recorded about the running container. */
export interface RunInfo {
  /** Host pid of the container's PID 1; 0 while the launch is under way. */
  pid: number;
  /** From /proc/<pid>/stat, so a reused pid is never taken for the container. */
  startTime: string;
  startedAt: string;
  cgroups: CgroupPlan;
}
