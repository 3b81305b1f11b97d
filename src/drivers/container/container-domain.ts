import { existsSync, lstatSync, renameSync, rmSync } from 'node:fs';
import { DriverError, type DomainStatus, type VmSpec } from '../hypervisor-driver.port.js';
import { readJson, removeFile, writeJsonAtomic } from '../kit/vm-files.js';
import { detectHierarchies } from './cgroup-hierarchies.js';
import {
  cgroupPids,
  createCgroups,
  freeze,
  freezeState,
  planCgroups,
  removeCgroups,
  thaw,
} from './container-cgroups.js';
import { containerPaths, type ContainerPaths, type RunInfo } from './container-files.js';
import { consoleTail, hostnameFor, launchContainer, readPidFile, runcDelete } from './container-launch.js';
import { ID_MAP_BASE, ID_MAP_SIZE, shiftTree } from './id-map.js';
import { ociConfig } from './oci-config.js';
import { assertSafeName } from '../kit/safe-name.js';
import { volumeDirPath } from '../kit/volume-files.js';
import type { ContainerHostConfig } from './container-uri.js';
import { isSameLiveProcess, procStat, signal, waitGone } from './proc-stat.js';
import { withFileLock } from '../kit/file-lock.js';
import { createDiskImage, diskImageGiB, growDiskImageOffline, mountDiskImage, unmountDiskImage } from './disk-image.js';
import { assertMountPoints, copyTree, ensureMountPoints } from './rootfs.js';
import type { HostNetworks } from '../kit/network/host-networks.js';

export interface HostContext {
  storageDir: string;
  /** Names this host's cgroups (`<base>/<hostKey>/<vmId>`), so two hosts on one machine never share one. */
  hostKey: string;
  config: ContainerHostConfig;
  imageDirs: string[];
  /** runc's state dir for this host's containers (`runc --root`). */
  runcRoot: string;
  /** Where this host's container disks are mounted (`<mounts>/<hash of storageDir>`). */
  diskMounts: string;
  /** Bridges, veths, DHCP and NAT of the networks this host's containers are on. */
  networks: HostNetworks;
}

export interface StoredSpec extends VmSpec {
  definedAt: string;
}

const KILL_WAIT_MS = 5_000;
/** A launch recorded (run.pid 0) this recently is still under way, not a crash. */
const LAUNCH_WINDOW_MS = 30_000;

/** One container on one host: its files, its init process and its cgroups. */
export class ContainerDomain {
  readonly paths: ContainerPaths;

  constructor(
    readonly host: HostContext,
    readonly vmId: string,
  ) {
    this.paths = containerPaths(host.storageDir, vmId, host.diskMounts);
  }

  readSpec(): StoredSpec | undefined {
    return readJson<StoredSpec>(this.paths.spec);
  }

  requireSpec(): StoredSpec {
    const spec = this.readSpec();
    if (!spec) throw new DriverError('not_found', `VM ${this.vmId} is not defined on this host`);
    return spec;
  }

  readRun(): RunInfo | undefined {
    return readJson<RunInfo>(this.paths.run);
  }

  /** The init's host pid while it really runs (same pid and start time, not a zombie). */
  livePid(run = this.readRun()): number | undefined {
    return run ? this.liveInit(run)?.pid : undefined;
  }

  /**
   * The recorded init, or, when the worker died between the container reporting its pid and
   * the driver recording it (run.pid 0), the pid from init.pid provided that process is in the
   * container's own cgroup (which a reused pid would not be).
   */
  private liveInit(run: RunInfo): { pid: number; startTime: string } | undefined {
    if (run.pid > 0) return isSameLiveProcess(run.pid, run.startTime) ? run : undefined;
    const pid = readPidFile(this.paths.pidFile);
    if (pid === undefined || !cgroupPids(run.cgroups).includes(pid)) return undefined;
    const st = procStat(pid);
    return st && st.state !== 'Z' ? { pid, startTime: st.startTime } : undefined;
  }

  status(): DomainStatus {
    const run = this.readRun();
    if (!run) return { state: this.readSpec() ? 'stopped' : 'absent' };
    const pid = this.livePid(run);
    if (pid === undefined && run.pid === 0 && Date.now() - Date.parse(run.startedAt) < LAUNCH_WINDOW_MS) {
      return { state: 'unknown', detail: 'the container is being started' };
    }
    if (pid === undefined) {
      return {
        state: 'crashed',
        detail: `init (pid ${run.pid}) is gone without a stop; console: ${consoleTail(this.paths.console, 500)}`,
      };
    }
    const frozen = freezeState(run.cgroups);
    if (frozen === 'frozen' || frozen === 'freezing') return { state: 'paused', pid, detail: `cgroup ${frozen}` };
    return { state: 'running', pid };
  }

  /**
   * Starts the container from scratch: leftovers of an earlier run (a crashed init's cgroups, a
   * half-done launch) are cleared first, then cgroups with the spec's limits, then the init.
   */
  async launch(spec: StoredSpec, signal?: AbortSignal): Promise<void> {
    await this.openDisk(spec.diskGiB);
    this.recoverRootfs();
    if (!existsSync(this.paths.rootfs)) throw new DriverError('not_found', `VM ${this.vmId} has no root filesystem`);
    ensureMountPoints(this.paths.rootfs);
    assertMountPoints(this.paths.rootfs);
    // A root filesystem from before user namespaces (owned by host root) joins the range once.
    if (!inIdRange(lstatSync(this.paths.rootfs).uid)) shiftTree(this.paths.rootfs);
    const hierarchies = detectHierarchies(this.host.config.cgroupParent);
    const planned = planCgroups(hierarchies, this.host.hostKey, this.vmId, this.host.config.freezer);
    await this.clearLeftovers(this.readRun()?.cgroups ?? planned);
    const cgroups = createCgroups(
      planned,
      { memoryBytes: spec.memoryMiB * 1024 * 1024, cpus: spec.vcpus, pidsMax: this.host.config.pidsMax },
      hierarchies,
    );
    removeFile(this.paths.pidFile);
    writeJsonAtomic(
      this.paths.config,
      ociConfig({
        rootfs: this.paths.rootfs,
        hostname: hostnameFor(spec.name, spec.id),
        cgroupsPath: this.cgroupsPath(),
        busybox: this.host.config.busybox,
        volumes: (spec.volumes ?? []).map((v) => ({
          source: volumeDirPath(this.host.storageDir, v),
          destination: `/mnt/${assertSafeName('volume name', v.name)}`,
        })),
      }),
    );
    // Recorded before the spawn so a worker dying mid-launch leaves the cgroups findable.
    writeJsonAtomic(this.paths.run, {
      pid: 0,
      startTime: '',
      startedAt: new Date().toISOString(),
      cgroups,
    } satisfies RunInfo);
    try {
      const init = await launchContainer({
        runcRoot: this.host.runcRoot,
        id: this.vmId,
        bundle: this.paths.vmDir,
        pidFile: this.paths.pidFile,
        consoleLog: this.paths.console,
        consoleIn: this.paths.consoleIn,
        startGraceMs: this.host.config.startGraceMs,
        signal,
      });
      writeJsonAtomic(this.paths.run, {
        pid: init.pid,
        startTime: init.startTime,
        startedAt: new Date().toISOString(),
        cgroups,
      } satisfies RunInfo);
      // runc made the network namespace (owned by the container's user namespace, so its sysfs
      // mounts); the NICs are moved into it from here, where the host's CAP_NET_ADMIN reaches it.
      if (spec.nics?.length) await this.host.networks.plugVeths(this.vmId, spec.nics, init.pid);
    } catch (err) {
      await this.clearLeftovers(cgroups);
      throw err;
    }
  }

  /**
   * SIGTERM to the init, SIGKILL when it is still there after `timeoutMs` (at once when not
   * graceful). Killing a PID namespace's init kills every process in it. A frozen container is
   * thawed first: a v1-frozen task does not act on any signal until thawed.
   */
  async terminate(opts: { graceful: boolean; timeoutMs: number }): Promise<'stopped' | 'not-running'> {
    const run = this.readRun();
    if (!run) return 'not-running';
    const init = this.liveInit(run);
    if (init === undefined) {
      await this.clearLeftovers(run.cgroups);
      return 'not-running';
    }
    const { pid } = init;
    const gone = (): boolean => !isSameLiveProcess(pid, init.startTime);
    // Frozen tasks act on no signal: thawed first (a cgroup another worker already removed is left be).
    await thaw(run.cgroups);
    let stopped = false;
    if (opts.graceful) {
      signal(pid, 'SIGTERM');
      stopped = await waitGone(gone, opts.timeoutMs);
    }
    if (!stopped) {
      signal(pid, 'SIGKILL');
      if (!(await waitGone(gone, KILL_WAIT_MS))) {
        throw new DriverError('timeout', `init (pid ${pid}) of ${this.vmId} survived SIGKILL for ${KILL_WAIT_MS} ms`);
      }
    }
    await this.clearLeftovers(run.cgroups);
    return 'stopped';
  }

  async pause(): Promise<void> {
    const run = this.requireLive('pause');
    if (freezeState(run.cgroups) === 'frozen') return;
    await freeze(run.cgroups);
  }

  async resume(): Promise<void> {
    const run = this.requireLive('resume');
    await thaw(run.cgroups);
  }

  requireLive(verb: string): RunInfo {
    this.requireSpec();
    const run = this.readRun();
    if (!run || this.livePid(run) === undefined)
      throw new DriverError('conflict', `cannot ${verb} ${this.vmId}: it is not running`);
    return run;
  }

  /**
   * Makes the disk image (first time), mounts it (mounts do not survive a host reboot), grows it to
   * `sizeGiB` when a resize asked for more, and moves
   * a root filesystem that is not yet inside it (an older release's, or one a migration brought)
   * in: a copy that does not fit is ENOSPC, i.e. the VM is bigger than its diskGiB.
   */
  async openDisk(sizeGiB: number): Promise<void> {
    await withFileLock(this.paths.diskLock, async () => {
      if (!existsSync(this.paths.diskImage)) await createDiskImage(this.paths.diskImage, sizeGiB);
      // A cold resize grew diskGiB since the image was made: it grows now, unmounted (never shrinks).
      else if (diskImageGiB(this.paths.diskImage) < sizeGiB)
        await growDiskImageOffline(this.paths.diskImage, this.paths.disk, sizeGiB);
      await mountDiskImage(this.paths.diskImage, this.paths.disk);
      if (!existsSync(this.paths.plainRootfs)) return;
      if (!existsSync(this.paths.rootfs)) {
        rmSync(this.paths.rootfsNew, { recursive: true, force: true });
        await copyTree(this.paths.plainRootfs, this.paths.rootfsNew);
        renameSync(this.paths.rootfsNew, this.paths.rootfs);
      }
      rmSync(this.paths.plainRootfs, { recursive: true, force: true });
    });
  }

  /** Unmounts the disk, before the VM dir is removed or sent away. */
  async closeDisk(): Promise<void> {
    try {
      await withFileLock(this.paths.diskLock, () => unmountDiskImage(this.paths.disk));
    } catch (err) {
      // The VM dir is gone (a concurrent destroy removed it): nothing left to race with.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await unmountDiskImage(this.paths.disk);
    }
  }

  /** A revert that crashed between its renames left the previous rootfs aside: put it back. */
  recoverRootfs(): void {
    if (!existsSync(this.paths.rootfs) && existsSync(this.paths.rootfsOld))
      renameSync(this.paths.rootfsOld, this.paths.rootfs);
    rmSync(this.paths.rootfsNew, { recursive: true, force: true });
    rmSync(this.paths.rootfsOld, { recursive: true, force: true });
  }

  /**
   * runc's `linux.cgroupsPath` naming the dirs planCgroups chose: relative (runc puts it under its
   * own cgroup in each hierarchy, which is the worker's, as detectHierarchies does) unless the
   * host URI set a cgroupParent.
   */
  private cgroupsPath(): string {
    const parent = this.host.config.cgroupParent;
    return parent ? `${parent}/${this.host.hostKey}/${this.vmId}` : `virtledger/${this.host.hostKey}/${this.vmId}`;
  }

  /** Kills whatever is left in the container's cgroups, removes them, runc's record and the run files. */
  private async clearLeftovers(cgroups: RunInfo['cgroups']): Promise<void> {
    await thaw(cgroups);
    const pids = cgroupPids(cgroups);
    for (const p of pids) signal(p, 'SIGKILL');
    await waitGone(() => cgroupPids(cgroups).length === 0, KILL_WAIT_MS);
    await runcDelete(this.host.runcRoot, this.vmId);
    await removeCgroups(cgroups);
    // The peers died with the namespace; the host ends and the DHCP entries go now.
    await this.host.networks.unplug(this.vmId);
    removeFile(this.paths.run);
    removeFile(this.paths.pidFile);
  }
}

function inIdRange(id: number): boolean {
  return id >= ID_MAP_BASE && id < ID_MAP_BASE + ID_MAP_SIZE;
}
