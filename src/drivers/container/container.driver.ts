import { createHash } from 'node:crypto';
import { chownSync, existsSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import {
  DriverError,
  type CallContext,
  type ConsoleStream,
  type DomainInfo,
  type DomainState,
  type DomainStatus,
  type DriverCapabilities,
  type HostBinding,
  type HypervisorDriver,
  type MigrationEndpoint,
  type SnapshotInfo,
  type VmSpec,
  type DriverVolume,
} from '../hypervisor-driver.port.js';
import { toDriverError } from '../kit/driver-errors.js';
import { VmLock } from '../kit/vm-lock.js';
import { SAFE_NAME, assertSafeName, assertSpecSizes } from '../kit/safe-name.js';
import { ensureDir, writeJsonAtomic } from '../kit/vm-files.js';
import { ContainerDomain, type HostContext, type StoredSpec } from './container-domain.js';
import { abortIncoming, finishIncoming, migrateOut, prepareIncoming } from './container-migration.js';
import {
  assertSnapshotName,
  deleteSnapshot,
  listSnapshots,
  revertSnapshot,
  takeSnapshot,
} from './container-snapshots.js';
import { parseContainerUri } from './container-uri.js';
import { containerCapabilities } from './container-capabilities.js';
import { runcList } from './container-launch.js';
import { containerConsoleLog, openContainerConsole } from './container-console.js';
import { buildRootfs, resolveImage } from './rootfs.js';
import { writeContainerSeed } from './container-seed.js';
import { resizeContainerLive } from './container-resize.js';
import { ID_MAP_BASE, shiftTree } from './id-map.js';
import { createVolumeDir, deleteVolumeFiles, volumeDirPath } from '../kit/volume-files.js';
import { TarReceivers } from './tar-receiver.js';
import { isDir, safeReaddir } from '../kit/fs-probe.js';
import { HostNetworks } from '../kit/network/host-networks.js';

export { containerCapabilities } from './container-capabilities.js';

/**
 * The isolation family on runc (Debian's; crun refuses hybrid cgroups): each VM is a process
 * tree in its own user (root = host uid 100000, see id-map.ts), PID, mount, UTS, IPC and network
 * namespaces, with 10 capabilities, no_new_privs, a seccomp filter from Debian's maintained
 * profile tightened to Docker's (seccomp-profile.ts), masked /proc and /sys paths and a device
 * allow-list (oci-config.ts); memory/CPU/pids limits and freeze/thaw through cgroups (v1 or v2,
 * detected); its root filesystem (generated from busybox-static, or copied from an image dir)
 * in a sparse ext4 image of diskGiB (disk-image.ts). `runc run` is detached from the worker and
 * the init found again by pid + start time, so containers outlive the worker.
 * - Host URI: `container:///?storage=…&images=…&stopTimeoutMs=…` (container-uri.ts).
 * - Files: `<storage>/<vmId>/{spec.json,config.json,disk.ext4,snapshots/<name>/,run.json,init.pid,console.log}`,
 *   runc's state in `<storage>/.runc`, the disk mounted at `<mounts>/<hash of storage>/<vmId>`.
 * - `spec.nics`: a veth pair per NIC (kit/network), the peer moved into the netns runc made.
 */
export class ContainerDriver implements HypervisorDriver {
  readonly kind = 'container';
  readonly capabilities: DriverCapabilities;
  private readonly host: HostContext;
  private readonly lock = new VmLock();
  /** Listeners of prepared tcp migrations; they live in this worker process until finish/abort. */
  private readonly receivers: TarReceivers;

  constructor(binding: HostBinding) {
    const config = parseContainerUri(binding.uri);
    const storageDir = normalize(config.storageDir ?? binding.storageDir);
    if (!isAbsolute(storageDir)) throw new Error(`storage dir must be absolute, got ${storageDir}`);
    this.capabilities = containerCapabilities(binding.uri);
    this.receivers = new TarReceivers(config.migrationHeaderTimeoutMs);
    this.host = {
      storageDir,
      hostKey: hostKeyOf(binding.id),
      config,
      imageDirs: config.imageDirs.length > 0 ? config.imageDirs : [join(storageDir, '.images')],
      runcRoot: join(storageDir, '.runc'),
      diskMounts: join(config.mounts, createHash('sha256').update(storageDir).digest('hex').slice(0, 16)),
      networks: new HostNetworks({ owner: `container-${hostKeyOf(binding.id)}` }),
    };
    ensureDir(storageDir);
  }

  get storageDir(): string {
    return this.host.storageDir;
  }

  /** runc's state dir of this host (`runc --root`): operators and tests `runc exec` through it. */
  get runcRoot(): string {
    return this.host.runcRoot;
  }

  /** Paths of one VM on this host: for operators and tests, not for the control plane. */
  domainPaths(vmId: string): ContainerDomain['paths'] {
    return this.domain(vmId).paths;
  }

  /** The host pid of the container's init while it runs (tests and operators use it with nsenter). */
  initPid(vmId: string): number | undefined {
    return this.domain(vmId).livePid();
  }

  /** The cgroup dirs of a running container (read-only view for operators and tests). */
  cgroups(vmId: string): NonNullable<ReturnType<ContainerDomain['readRun']>>['cgroups'] | undefined {
    return this.domain(vmId).readRun()?.cgroups;
  }

  async define(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    const dom = this.domain(spec.id);
    assertSpecSizes(spec);
    await this.exclusive(dom, 'define', async () => {
      const source = resolveImage(spec.image, this.host.imageDirs);
      ensureDir(dom.paths.vmDir);
      await dom.openDisk(spec.diskGiB);
      dom.recoverRootfs();
      if (!existsSync(dom.paths.rootfs)) {
        // Built aside and renamed, so a crash never leaves a half root filesystem that define would keep.
        try {
          await buildRootfs(source, dom.paths.rootfsNew, this.host.config.busybox);
          writeContainerSeed(dom.paths.rootfsNew, spec);
          shiftTree(dom.paths.rootfsNew);
        } catch (err) {
          rmSync(dom.paths.rootfsNew, { recursive: true, force: true });
          throw err;
        }
        if (ctx.signal?.aborted) throw new DriverError('failed', 'define aborted');
        renameSync(dom.paths.rootfsNew, dom.paths.rootfs);
      }
      const stored: StoredSpec = { ...spec, definedAt: dom.readSpec()?.definedAt ?? new Date().toISOString() };
      writeJsonAtomic(dom.paths.spec, stored);
      rmSync(dom.paths.tombstone, { force: true });
    });
  }

  async start(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'start', () => this.startLocked(dom, ctx, spec));
  }

  async stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'stop', async () => {
      // A VM never defined here is an error, not an idempotent success: the caller has the wrong host.
      if (!dom.readSpec() && !dom.readRun()) dom.requireSpec();
      await dom.terminate({ graceful: !opts.force, timeoutMs: opts.timeoutMs ?? this.host.config.stopTimeoutMs });
    });
  }

  /** Stop (graceful, then SIGKILL after the host's timeout) and start afresh: a container has no reset button. */
  async reboot(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'reboot', async () => {
      dom.requireLive('reboot');
      await dom.terminate({ graceful: true, timeoutMs: this.host.config.stopTimeoutMs });
      await dom.launch(dom.requireSpec(), ctx.signal);
    });
  }

  async pause(spec: VmSpec): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'pause', () => dom.pause());
  }

  async resume(spec: VmSpec): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'resume', () => dom.resume());
  }

  async destroy(spec: VmSpec): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'destroy', async () => {
      if (existsSync(dom.paths.vmDir)) await dom.terminate({ graceful: false, timeoutMs: 0 });
      // The container's own mounts die with its mount namespace; its disk is mounted here.
      await dom.closeDisk();
      await this.host.networks.unplug(dom.vmId);
      rmSync(dom.paths.vmDir, { recursive: true, force: true });
      this.receivers.close(dom.vmId);
      rmSync(dom.paths.incomingDir, { recursive: true, force: true });
      rmSync(dom.paths.tombstone, { force: true });
    });
  }

  async snapshot(spec: VmSpec, name: string, opts: { memory: boolean }): Promise<SnapshotInfo> {
    const dom = this.domain(spec.id);
    assertSafeName('snapshot name', name);
    assertSnapshotName(name);
    return this.exclusive(dom, 'snapshot', () => takeSnapshot(dom, name, opts.memory));
  }

  async revert(spec: VmSpec, name: string, ctx: CallContext = {}): Promise<DomainState> {
    const dom = this.domain(spec.id);
    assertSafeName('snapshot name', name);
    assertSnapshotName(name);
    return this.exclusive(dom, 'revert', () =>
      revertSnapshot(dom, name, () => dom.launch(dom.requireSpec(), ctx.signal)),
    );
  }

  async deleteSnapshot(spec: VmSpec, name: string): Promise<void> {
    const dom = this.domain(spec.id);
    assertSafeName('snapshot name', name);
    await this.exclusive(dom, 'delete snapshot', async () => deleteSnapshot(dom, name));
  }

  async listSnapshots(spec: VmSpec): Promise<SnapshotInfo[]> {
    const dom = this.domain(spec.id);
    try {
      return listSnapshots(dom);
    } catch (err) {
      throw toDriverError(err, `list snapshots of ${dom.vmId}`);
    }
  }

  async prepareIncoming(spec: VmSpec, opts: { live: boolean }): Promise<MigrationEndpoint> {
    const dom = this.domain(spec.id);
    return this.exclusive(dom, 'prepare incoming', () => prepareIncoming(dom, opts.live, this.receivers));
  }

  async migrate(
    spec: VmSpec,
    endpoint: MigrationEndpoint,
    opts: { live: boolean },
    ctx: CallContext = {},
  ): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'migrate', () =>
      migrateOut(dom, endpoint, opts.live, this.host.config.stopTimeoutMs, ctx),
    );
  }

  async finishIncoming(spec: VmSpec, opts: { live: boolean }, ctx: CallContext = {}): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'finish incoming', () =>
      finishIncoming(dom, opts.live, this.receivers, () => this.startLocked(dom, ctx)),
    );
  }

  async abortIncoming(spec: VmSpec): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'abort incoming', async () => abortIncoming(dom, this.receivers));
  }

  async status(spec: VmSpec): Promise<DomainStatus> {
    return this.domain(spec.id).status();
  }

  async openConsole(spec: VmSpec): Promise<ConsoleStream> {
    return openContainerConsole(this.domain(spec.id));
  }

  async consoleLog(spec: VmSpec, maxBytes: number): Promise<Buffer> {
    return containerConsoleLog(this.domain(spec.id), maxBytes);
  }

  /**
   * Our containers (dirs with a spec.json) and anything else found in the storage dir (a dir
   * with no spec, or a name we would never make), the latter `managed: false` and never touched.
   */
  async listDomains(): Promise<DomainInfo[]> {
    const domains: DomainInfo[] = [];
    for (const entry of safeReaddir(this.host.storageDir).sort()) {
      if (entry.startsWith('.') || !isDir(join(this.host.storageDir, entry))) continue;
      if (SAFE_NAME.test(entry)) {
        const dom = this.domain(entry);
        if (dom.readSpec()) {
          domains.push({ vmId: entry, managed: true, ...dom.status() });
          continue;
        }
      }
      domains.push({
        vmId: entry,
        managed: false,
        state: 'unknown',
        detail: 'found in the storage dir without a spec.json of this driver',
      });
    }
    // runc's own records: a container runc still runs whose files are gone is reported, never touched.
    const known = new Set(domains.map((d) => d.vmId));
    for (const c of await runcList(this.host.runcRoot).catch(() => [])) {
      if (known.has(c.id)) continue;
      domains.push({
        vmId: c.id,
        managed: false,
        state: c.status === 'running' ? 'running' : c.status === 'paused' ? 'paused' : 'unknown',
        ...(c.pid > 0 ? { pid: c.pid } : {}),
        detail: `known to runc (${c.status}) without a VM dir in the storage dir`,
      });
    }
    return domains;
  }

  /** Closes the listeners of prepared tcp migrations; containers are detached and keep running. */
  async close(): Promise<void> {
    this.receivers.closeAll();
  }

  private async startLocked(dom: ContainerDomain, ctx: CallContext, wanted?: VmSpec): Promise<void> {
    let stored = dom.requireSpec();
    if (existsSync(dom.paths.incomingDir)) {
      throw new DriverError('conflict', `an incoming migration of ${dom.vmId} is prepared here; finish or abort it`);
    }
    const state = dom.status().state;
    if (state === 'running') return;
    if (state === 'paused') {
      await dom.resume(); // start of a paused container: make it run, as qemu's `cont` does
      return;
    }
    const volumeIds = (s: VmSpec | undefined) => (s?.volumes ?? []).map((v) => v.volumeId).join(',');
    if (wanted && volumeIds(wanted) !== volumeIds(stored)) {
      // The control plane's volumes (the job's spec) are bound at this start.
      const { volumes: _old, ...rest } = stored;
      stored = wanted.volumes?.length ? { ...rest, volumes: wanted.volumes } : rest;
      writeJsonAtomic(dom.paths.spec, stored);
    }
    const grows = wanted !== undefined && wanted.diskGiB > stored.diskGiB;
    if (wanted && (wanted.vcpus !== stored.vcpus || wanted.memoryMiB !== stored.memoryMiB || grows)) {
      // A cold resize: the cgroup limits of the next launch come from the stored spec, and the
      // launch grows the root disk image to its diskGiB (resize2fs; a disk never shrinks).
      stored = {
        ...stored,
        vcpus: wanted.vcpus,
        memoryMiB: wanted.memoryMiB,
        diskGiB: Math.max(stored.diskGiB, wanted.diskGiB),
      };
      writeJsonAtomic(dom.paths.spec, stored);
    }
    await dom.launch(stored, ctx.signal);
  }

  /** Live: cgroup limits rewritten, the root disk grown online (container-resize.ts). */
  async resizeLive(spec: VmSpec, to: { vcpus: number; memoryMiB: number; diskGiB: number }): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'resize', () => resizeContainerLive(dom, to));
  }

  /** A directory owned by the container's mapped root, so the container may write into it. */
  async createVolume(volume: DriverVolume): Promise<void> {
    const dir = await createVolumeDir(this.host.storageDir, volume);
    chownSync(dir, ID_MAP_BASE, ID_MAP_BASE);
  }

  /** A directory has no size of its own: the new size is recorded for placement only. */
  async resizeVolume(volume: DriverVolume): Promise<void> {
    if (!existsSync(volumeDirPath(this.host.storageDir, volume))) {
      throw new DriverError('not_found', `volume ${volume.volumeId} has no directory on this host`);
    }
  }

  deleteVolume(volume: DriverVolume): Promise<void> {
    return deleteVolumeFiles(this.host.storageDir, volume);
  }

  /** Cold only (runc cannot add a mount to a running container): into the spec, bound at the next start. */
  async attachVolume(spec: VmSpec, volume: DriverVolume): Promise<void> {
    await this.changeVolumes(spec, 'attach', (vs) => [...vs.filter((v) => v.volumeId !== volume.volumeId), volume]);
  }

  async detachVolume(spec: VmSpec, volume: DriverVolume): Promise<void> {
    await this.changeVolumes(spec, 'detach', (vs) => vs.filter((v) => v.volumeId !== volume.volumeId));
  }

  private async changeVolumes(
    spec: VmSpec,
    verb: string,
    change: (vs: DriverVolume[]) => DriverVolume[],
  ): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, `${verb}Volume`, async () => {
      const stored = dom.requireSpec();
      const state = dom.status().state;
      if (state === 'running' || state === 'paused') {
        throw new DriverError('conflict', `cannot ${verb} a volume while container ${dom.vmId} runs: stop it first`);
      }
      writeJsonAtomic(dom.paths.spec, { ...stored, volumes: change(stored.volumes ?? []) });
    });
  }

  private domain(vmId: string): ContainerDomain {
    return new ContainerDomain(this.host, assertSafeName('vm id', vmId));
  }

  private async exclusive<T>(dom: ContainerDomain, verb: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(dom.vmId, verb, fn);
  }
}

/** Names the host's cgroup dir (`<base>/<hostKey>/<vmId>`): its id when that is a safe path segment. */
export function hostKeyOf(hostId: string): string {
  return SAFE_NAME.test(hostId) ? hostId : createHash('sha256').update(hostId).digest('hex').slice(0, 16);
}

/** The factory the driver registry wires for kind `container`. */
export function createContainerDriver(binding: HostBinding): ContainerDriver {
  return new ContainerDriver(binding);
}
