import { createHash } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
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
import { createVolumeImage, deleteVolumeFiles, growVolumeImage } from '../kit/volume-files.js';
import { attachQemuVolume, detachQemuVolume, growLive, withVolumes } from './qemu-volume-verbs.js';
import { qemuDriverError, qmpErrorMapper } from './qmp-errors.js';
import { abortIncoming, finishIncoming, prepareIncoming } from './incoming-migration.js';
import { VmLock } from '../kit/vm-lock.js';
import type { HostPolicy } from '../kit/host-policy.js';
import { migrateOut, type KnownStatus } from './outgoing-migration.js';
import { OutgoingHolds } from './outgoing-hold.js';
import { QemuDomain, type HostContext } from './qemu-domain.js';
import { isKernelImage, kernelBootOf, resolveBaseImage } from '../kit/image-catalog.js';
import { createQcow2, imageInfo, isImageInUse } from '../kit/qemu-img.js';
import { listQemuProcesses } from './qemu-process.js';
import { applySize } from './qemu-cold-resize.js';
import { resizeLive, type ResizeTarget } from './qemu-hot-resize.js';
import { deleteSnapshot, listSnapshots, revertSnapshot, takeSnapshot } from './qemu-snapshots.js';
import { parseQemuUri } from './qemu-uri.js';
import { capabilitiesFor, resolveAccel } from './qemu-capabilities.js';
import { QmpPool } from './qmp-pool.js';
import { openQemuConsole, qemuConsoleLog } from './qemu-console.js';
import { SAFE_NAME, assertSafeName, assertSpecSizes, diskBytesOf } from '../kit/safe-name.js';
import { ensureDir, removeFile, storageId, tombstonePath } from '../kit/vm-files.js';
import { isDir, safeReaddir } from '../kit/fs-probe.js';
import { HostNetworks } from '../kit/network/host-networks.js';
import { tracePhase } from '../kit/phase-trace.js';
import { spawnHelper } from '../kit/spawn-helper.js';

export { qemuCapabilities } from './qemu-capabilities.js';

/**
 * The QEMU driver: one qemu-system-x86_64 per VM, spawned detached (it outlives the worker and is
 * found again by pid + cmdline), driven over its QMP socket; disks are qcow2 through qemu-img.
 * No libvirt.
 * - Host URI: `qemu:///system?storage=…&migrationHost=…&accel=…` (qemu-uri.ts).
 * - Files: `<storage>/<vmId>/{disk.qcow2,spec.json,run-<hostId>/…}` (vm-files.ts).
 * - `spec.image`: a base qcow2 to overlay, or `kernel:/abs/dir` to boot a kernel + initrd with the
 *   serial console on a socket; either only from the host's image catalog (kit/image-catalog.ts).
 * - Migration: shared storage or NBD storage copy (incoming-/outgoing-migration.ts).
 * - `spec.nics`: a tap per NIC on its network's bridge (kit/network), plugged at every launch
 *   (a migration target's too, so MAC and IP stay) and released when the process ends.
 */
export class QemuDriver implements HypervisorDriver {
  readonly kind = 'qemu';
  readonly capabilities: DriverCapabilities;
  private readonly host: HostContext;
  private readonly lock = new VmLock(qmpErrorMapper);
  private readonly outgoing = new OutgoingHolds();

  constructor(binding: HostBinding, policy?: HostPolicy) {
    const config = parseQemuUri(binding.uri, policy);
    const storageDir = normalize(config.storageDir ?? binding.storageDir);
    if (!isAbsolute(storageDir)) throw new Error(`storage dir must be absolute, got ${storageDir}`);
    // QEMU option strings use commas as separators; a path with one would be split.
    if (storageDir.includes(',')) throw new Error(`storage dir must not contain a comma: ${storageDir}`);
    const accel = resolveAccel(config);
    this.capabilities = { ...capabilitiesFor(config), hardwareAcceleration: accel === 'kvm' };
    const hostKey = SAFE_NAME.test(binding.id)
      ? binding.id
      : createHash('sha256').update(binding.id).digest('hex').slice(0, 16);
    this.host = {
      storageDir,
      imagesDirs: config.imagesDirs.length > 0 ? config.imagesDirs : [join(storageDir, '.images')],
      hostKey,
      config,
      accel,
      pool: new QmpPool({ connectTimeoutMs: 5_000, commandTimeoutMs: 10_000 }),
      networks: new HostNetworks({ owner: `qemu-${hostKey}` }),
    };
    ensureDir(storageDir);
    // Up before the first start: QEMU is then spawned by the helper, not by forking this process.
    spawnHelper().warm();
  }

  get storageDir(): string {
    return this.host.storageDir;
  }

  /** Paths of one VM on this host (sockets, logs): for operators and tests, not for the control plane. */
  domainPaths(vmId: string): QemuDomain['paths'] {
    return this.domain(vmId).paths;
  }

  async define(spec: VmSpec): Promise<void> {
    const dom = this.domain(spec.id);
    assertSpecSizes(spec);
    await this.exclusive(dom, 'define', async () => {
      if (isKernelImage(spec.image)) kernelBootOf(spec.image, this.host.imagesDirs); // fail now, not at start
      const base = isKernelImage(spec.image) ? undefined : resolveBaseImage(spec.image, this.host.imagesDirs);
      const size = diskBytesOf(spec);
      if (base) {
        const baseSize = (await imageInfo(base, { forceShare: true }))['virtual-size'];
        // A smaller overlay would hide the end of the base, and every disk of the VM must be diskGiB.
        if (baseSize > size) {
          throw new DriverError(
            'failed',
            `base image ${base} (${baseSize} bytes) is larger than diskGiB (${size} bytes)`,
          );
        }
      }
      const created = !existsSync(dom.paths.vmDir);
      ensureDir(dom.paths.vmDir);
      if (!existsSync(dom.paths.disk)) {
        const part = `${dom.paths.disk}.part`;
        removeFile(part);
        try {
          await createQcow2(part, size, base);
          tracePhase(dom.vmId, 'qemu-img created the disk');
        } catch (err) {
          // A failed first define leaves nothing behind: no folder that listDomains or a later define would trust.
          if (created) dom.removeAllFiles();
          throw err;
        }
        // Created under a temporary name so a crash never leaves a half-made disk that define would keep.
        renameSync(part, dom.paths.disk);
      }
      dom.writeSpec(spec);
      removeFile(tombstonePath(this.host.storageDir, this.host.hostKey, dom.vmId));
    });
  }

  async start(spec: VmSpec): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'start', async () => {
      const stored = dom.requireSpec();
      const owner = dom.ownerElsewhere();
      if (owner) {
        throw new DriverError('conflict', `VM ${dom.vmId} belongs to host ${owner}; define it here to adopt it`);
      }
      if (existsSync(dom.paths.incoming)) {
        throw new DriverError('conflict', `an incoming migration of ${dom.vmId} is prepared here; finish or abort it`);
      }
      if (dom.livePid() !== undefined) {
        const { status } = await dom.queryStatus();
        if (status === 'running') return;
        if (status === 'paused' || status === 'prelaunch') {
          await dom.qmp((c) => c.execute('cont'));
          return;
        }
        if (status === 'inmigrate' || status === 'postmigrate' || status === 'finish-migrate') {
          throw new DriverError('conflict', `VM ${dom.vmId} is migrating (${status})`);
        }
        await dom.kill(); // shutdown / guest-panicked / internal-error: start afresh
      }
      const sized = await applySize(dom, stored, spec);
      // The VM's volumes are the control plane's (the job's spec), not whatever define stored.
      const next = withVolumes(sized, spec.volumes);
      if (next !== sized) dom.writeSpec(next);
      await dom.launch(next);
    });
  }

  createVolume(volume: DriverVolume): Promise<void> {
    return createVolumeImage(this.host.storageDir, volume).then(() => undefined);
  }

  /** Attached to a VM running here: grown live through its QEMU; otherwise the file, with qemu-img. */
  async resizeVolume(volume: DriverVolume, opts: { vmId?: string } = {}): Promise<void> {
    if (opts.vmId) {
      const dom = this.domain(opts.vmId);
      if (await this.exclusive(dom, 'resizeVolume', () => growLive(dom, volume))) return;
    }
    await growVolumeImage(this.host.storageDir, volume);
  }

  deleteVolume(volume: DriverVolume): Promise<void> {
    return deleteVolumeFiles(this.host.storageDir, volume);
  }

  /** Into the stored spec (next start) and, when the VM runs, hot-plugged over QMP. */
  async attachVolume(spec: VmSpec, volume: DriverVolume, opts: { live: boolean }): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'attachVolume', () => attachQemuVolume(dom, volume, opts));
  }

  async detachVolume(spec: VmSpec, volume: DriverVolume): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'detachVolume', () => detachQemuVolume(dom, volume));
  }

  /** Grown while it runs (qemu-hot-resize.ts); the stored spec follows, so a restart keeps the size. */
  async resizeLive(spec: VmSpec, to: ResizeTarget, ctx?: CallContext): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'resizeLive', () => resizeLive(dom, to, ctx));
  }

  async stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }, ctx?: CallContext): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'stop', async () => {
      const outcome = await dom.terminate({
        graceful: !opts.force,
        timeoutMs: opts.timeoutMs ?? this.host.config.stopTimeoutMs,
        ...(ctx?.signal ? { signal: ctx.signal } : {}),
      });
      if (outcome !== 'not-running') return;
      // Nothing to stop and nothing defined: a success here would let the control plane record a stop of a VM that is not on this host.
      if (!dom.isDefined()) throw new DriverError('not_found', `VM ${dom.vmId} is not defined on this host`);
      dom.markStopped();
    });
  }

  async reboot(spec: VmSpec): Promise<void> {
    await this.whileLive(spec, 'reboot', async (dom) => {
      await dom.qmp((c) => c.execute('system_reset'));
    });
  }

  async pause(spec: VmSpec): Promise<void> {
    await this.whileLive(spec, 'pause', async (dom, status) => {
      if (status !== 'running') return;
      await dom.qmp((c) => c.execute('stop'));
    });
  }

  async resume(spec: VmSpec): Promise<void> {
    await this.whileLive(spec, 'resume', async (dom, status) => {
      if (status === 'running') return;
      await dom.qmp((c) => c.execute('cont'));
    });
  }

  async destroy(spec: VmSpec): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'destroy', async () => {
      if (existsSync(dom.paths.vmDir)) {
        await dom.terminate({ graceful: false, timeoutMs: 0 });
        if (dom.ownerElsewhere()) {
          dom.removeRuntimeFiles(); // the disk and spec are another host's, on shared storage
          return;
        }
        // Shared storage: another host's QEMU may hold this disk; deleting it would pull it from under that guest.
        if (existsSync(dom.paths.disk) && (await isImageInUse(dom.paths.disk))) {
          throw new DriverError('conflict', `the disk of ${dom.vmId} is in use by another QEMU; not deleting it`);
        }
      }
      dom.removeAllFiles();
      await dom.releaseNetwork();
      removeFile(tombstonePath(this.host.storageDir, this.host.hostKey, dom.vmId));
    });
  }

  async snapshot(spec: VmSpec, name: string, opts: { memory: boolean }): Promise<SnapshotInfo> {
    const dom = this.domain(spec.id);
    assertSafeName('snapshot name', name);
    return this.exclusive(dom, 'snapshot', () => takeSnapshot(dom, name, opts.memory));
  }

  async revert(spec: VmSpec, name: string): Promise<DomainState> {
    const dom = this.domain(spec.id);
    assertSafeName('snapshot name', name);
    return this.exclusive(dom, 'revert', () => revertSnapshot(dom, name));
  }

  async deleteSnapshot(spec: VmSpec, name: string): Promise<void> {
    const dom = this.domain(spec.id);
    assertSafeName('snapshot name', name);
    await this.exclusive(dom, 'delete snapshot', () => deleteSnapshot(dom, name));
  }

  async listSnapshots(spec: VmSpec): Promise<SnapshotInfo[]> {
    const dom = this.domain(spec.id);
    try {
      return await listSnapshots(dom);
    } catch (err) {
      throw qemuDriverError(err, `list snapshots of ${dom.vmId}`);
    }
  }

  async prepareIncoming(spec: VmSpec, opts: { live: boolean }): Promise<MigrationEndpoint> {
    const dom = this.domain(spec.id);
    return this.exclusive(dom, 'prepare incoming', () => prepareIncoming(dom, spec, opts.live));
  }

  async migrate(
    spec: VmSpec,
    endpoint: MigrationEndpoint,
    opts: { live: boolean },
    ctx: CallContext = {},
  ): Promise<void> {
    const dom = this.domain(spec.id);
    try {
      const known: KnownStatus = (c) => this.outgoing.take(spec.id, c);
      await this.exclusive(dom, 'migrate', () => migrateOut(dom, endpoint, opts.live, ctx, known));
    } finally {
      this.outgoing.end(dom);
    }
  }

  /** Not under the VM's lock: opening a connection changes nothing a verb could race with (see OutgoingHolds). */
  async prepareOutgoing(vmId: string, opts: { holdMs?: number } = {}): Promise<void> {
    await this.outgoing.hold(this.domain(vmId), opts.holdMs);
  }

  async finishIncoming(spec: VmSpec, opts: { live: boolean }): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'finish incoming', () => finishIncoming(dom, spec, opts.live));
  }

  async abortIncoming(spec: VmSpec): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, 'abort incoming', () => abortIncoming(dom));
  }

  /** Not under the VM lock: attaching to the console changes nothing a verb could race with. */
  async openConsole(spec: VmSpec): Promise<ConsoleStream> {
    return openQemuConsole(this.domain(spec.id));
  }

  async consoleLog(spec: VmSpec, maxBytes: number): Promise<Buffer> {
    return qemuConsoleLog(this.domain(spec.id), maxBytes);
  }

  async status(spec: VmSpec): Promise<DomainStatus> {
    return this.domain(spec.id).status();
  }

  /**
   * Our VMs (dirs in the storage dir with a spec or a live process) plus every other
   * qemu-system process on the host, reported as `managed: false` and never touched.
   */
  async listDomains(): Promise<DomainInfo[]> {
    const domains: DomainInfo[] = [];
    const ourPids = new Set<number>();
    for (const entry of safeReaddir(this.host.storageDir)) {
      if (!SAFE_NAME.test(entry) || !isDir(join(this.host.storageDir, entry))) continue;
      const dom = this.domain(entry);
      const pid = dom.livePid();
      if (pid === undefined && (!dom.isDefined() || dom.ownerElsewhere())) continue;
      if (pid !== undefined) ourPids.add(pid);
      domains.push({ vmId: entry, managed: true, ...(await dom.status()) });
    }
    for (const proc of listQemuProcesses()) {
      if (ourPids.has(proc.pid)) continue;
      domains.push({
        vmId: proc.name ?? `pid-${proc.pid}`,
        managed: false,
        state: 'running',
        pid: proc.pid,
        detail: 'qemu process not created by this driver (guest state not inspected)',
      });
    }
    return domains;
  }

  async close(): Promise<void> {
    this.outgoing.closeAll();
    this.host.pool.closeAll();
  }

  /** The id under which this host's storage is known; equal on hosts that share it. */
  storageId(): string {
    return storageId(this.host.storageDir);
  }

  private domain(vmId: string): QemuDomain {
    return new QemuDomain(this.host, assertSafeName('vm id', vmId));
  }

  private async exclusive<T>(dom: QemuDomain, verb: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(dom.vmId, verb, fn);
  }

  private async whileLive(
    spec: VmSpec,
    verb: string,
    fn: (dom: QemuDomain, status: string) => Promise<void>,
  ): Promise<void> {
    const dom = this.domain(spec.id);
    await this.exclusive(dom, verb, async () => {
      dom.requireSpec();
      if (dom.livePid() === undefined) throw new DriverError('conflict', `VM ${dom.vmId} is not running`);
      const { status } = await dom.queryStatus();
      if (status === 'inmigrate' || status === 'postmigrate' || status === 'shutdown') {
        throw new DriverError('conflict', `VM ${dom.vmId} cannot ${verb} while ${status}`);
      }
      await fn(dom, status);
    });
  }
}

/** The factory the driver registry wires for kind `qemu`. */
export function createQemuDriver(binding: HostBinding, policy?: HostPolicy): QemuDriver {
  return new QemuDriver(binding, policy);
}
