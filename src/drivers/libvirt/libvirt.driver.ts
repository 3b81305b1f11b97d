import { existsSync } from 'node:fs';
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
import { deleteVolumeFiles } from '../kit/volume-files.js';
import {
  attachLibvirtVolume,
  createLibvirtVolume,
  detachLibvirtVolume,
  resizeLibvirtVolume,
} from './libvirt-volumes.js';
import { toDriverError } from '../kit/driver-errors.js';
import type { HostPolicy } from '../kit/host-policy.js';
import { VmLock } from '../kit/vm-lock.js';
import { SAFE_NAME, assertSafeName, assertSpecSizes } from '../kit/safe-name.js';
import { DomainEventStream } from './domain-events.js';
import { parseDomstats } from './domain-state.js';
import { abortIncoming, finishIncoming, prepareIncoming } from './libvirt-incoming.js';
import { DOMAIN_PREFIX, LibvirtHost, type VmFiles } from './libvirt-host.js';
import { defineVm, destroyVm, startVm, stopVm, whileActive } from './libvirt-lifecycle.js';
import { migrateOut } from './libvirt-outgoing.js';
import { resizeLibvirtLive, type ResizeTarget } from './libvirt-hot-resize.js';
import { libvirtConsoleLog, openLibvirtConsole } from './libvirt-console.js';
import { deleteSnapshot, revertSnapshot, takeSnapshot } from './libvirt-snapshot-verbs.js';
import type { LibvirtHostConfig } from './libvirt-uri.js';

export { DOMAIN_PREFIX } from './libvirt-host.js';

/**
 * The libvirt driver: every verb is a `virsh -c <uri>` child process with a deadline (virsh.ts);
 * the domain XML is generated from the VmSpec (domain-xml.ts); disks are qcow2 files under the
 * host's storage dir, `<storage>/<vmId>/disk.qcow2`, which the QEMU user (libvirt-qemu) must be
 * able to reach: the dirs made here are 0711.
 * - Host URI: any libvirt URI plus our parameters (libvirt-uri.ts), e.g. `qemu:///system`.
 * - `spec.image`: a base qcow2 or `kernel:<dir>` from the host's image catalog (kit/image-catalog.ts).
 * - Verbs: lifecycle (libvirt-lifecycle.ts), snapshots (libvirt-snapshot-verbs.ts: memory ones are
 *   libvirt internal snapshots; disk-only ones, and any of a stopped VM, are external overlay
 *   files reverted and deleted here since libvirt 9 cannot, libvirt-external-snapshots.ts),
 *   migration (libvirt-outgoing.ts, libvirt-incoming.ts: `virsh migrate --live --p2p` to the
 *   target's libvirtd, `--copy-storage-all` unless both hosts see the same storage).
 * - watch(): `virsh event` lifecycle events, so reconciliation hears of an outside stop at once.
 * This class only dispatches: one verb at a time per VM, errors named after the verb.
 */
export class LibvirtDriver implements HypervisorDriver {
  readonly kind = 'libvirt';
  private readonly host: LibvirtHost;
  private readonly lock = new VmLock();
  private readonly streams = new Set<DomainEventStream>();

  constructor(binding: HostBinding, policy?: HostPolicy) {
    this.host = new LibvirtHost(binding, policy);
  }

  get capabilities(): DriverCapabilities {
    return this.host.capabilities;
  }

  get config(): LibvirtHostConfig {
    return this.host.config;
  }

  get storageDir(): string {
    return this.host.storageDir;
  }

  get uri(): string {
    return this.host.uri;
  }

  domainName(vmId: string): string {
    return this.host.domainName(vmId);
  }

  files(vmId: string): VmFiles {
    return this.host.files(vmId);
  }

  async define(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    assertSpecSizes(spec);
    await this.exclusive(spec.id, 'define', () => defineVm(this.host, spec, ctx));
  }

  createVolume(volume: DriverVolume): Promise<void> {
    return createLibvirtVolume(this.host.storageDir, volume);
  }

  resizeVolume(volume: DriverVolume, opts: { vmId?: string } = {}, ctx: CallContext = {}): Promise<void> {
    return resizeLibvirtVolume(this.host, volume, opts.vmId, ctx);
  }

  deleteVolume(volume: DriverVolume): Promise<void> {
    return deleteVolumeFiles(this.host.storageDir, volume);
  }

  /** `virsh attach-device --config` (+ `--live` when it runs): hot-plug, and kept for the next start. */
  async attachVolume(spec: VmSpec, volume: DriverVolume, _opts: { live: boolean }, ctx: CallContext = {}) {
    await this.exclusive(spec.id, 'attachVolume', () => attachLibvirtVolume(this.host, spec, volume, ctx));
  }

  async detachVolume(spec: VmSpec, volume: DriverVolume, _opts: { live: boolean }, ctx: CallContext = {}) {
    await this.exclusive(spec.id, 'detachVolume', () => detachLibvirtVolume(this.host, spec, volume, ctx));
  }

  /** Grown while it runs (libvirt-hot-resize.ts); only where the host declares it (QEMU family). */
  async resizeLive(spec: VmSpec, to: ResizeTarget, ctx: CallContext = {}): Promise<void> {
    if (!this.host.capabilities.hotResize) {
      throw new DriverError('unsupported', `live resize is not supported on ${this.host.uri}`);
    }
    await this.exclusive(spec.id, 'resizeLive', () => resizeLibvirtLive(this.host, spec, to, ctx));
  }

  async start(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'start', async () => {
      await this.host.plugNetworks(spec); // libvirt attaches its tap to a bridge that must exist
      await startVm(this.host, spec, ctx);
    });
  }

  async stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'stop', async () => {
      await stopVm(this.host, spec, opts, ctx);
      await this.host.networks.unplug(spec.id);
    });
  }

  async reboot(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.host.require('reboot', 'reboot');
    // A reset, like the qemu driver's system_reset: it works whether or not the guest handles ACPI.
    await this.active(spec, 'reboot', ctx, async (name) => void (await this.host.v(['reset', name], ctx)));
  }

  async pause(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.host.require('pause', 'pause');
    await this.active(spec, 'pause', ctx, async (name, state) => {
      if (state === 'running') await this.host.v(['suspend', name], ctx);
    });
  }

  async resume(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.host.require('pause', 'resume');
    await this.active(spec, 'resume', ctx, async (name, state) => {
      if (state === 'paused') await this.host.v(['resume', name], ctx);
    });
  }

  async destroy(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'destroy', async () => {
      await destroyVm(this.host, spec, ctx);
      await this.host.networks.unplug(spec.id);
    });
  }

  async snapshot(spec: VmSpec, name: string, opts: { memory: boolean }, ctx: CallContext = {}): Promise<SnapshotInfo> {
    assertSafeName('snapshot name', name);
    return this.exclusive(spec.id, 'snapshot', () => takeSnapshot(this.host, spec, name, opts, ctx));
  }

  async revert(spec: VmSpec, name: string, ctx: CallContext = {}): Promise<DomainState> {
    assertSafeName('snapshot name', name);
    return this.exclusive(spec.id, 'revert', async () => {
      await this.host.plugNetworks(spec); // a memory snapshot's revert starts the domain
      const state = await revertSnapshot(this.host, spec, name, ctx);
      if (state !== 'running' && state !== 'paused') await this.host.networks.unplug(spec.id);
      return state;
    });
  }

  async deleteSnapshot(spec: VmSpec, name: string, ctx: CallContext = {}): Promise<void> {
    assertSafeName('snapshot name', name);
    await this.exclusive(spec.id, 'delete snapshot', () => deleteSnapshot(this.host, spec, name, ctx));
  }

  async listSnapshots(spec: VmSpec, ctx: CallContext = {}): Promise<SnapshotInfo[]> {
    try {
      return await this.host.snapshots(spec.id, ctx);
    } catch (err) {
      throw toDriverError(err, `list snapshots of ${spec.id}`);
    }
  }

  async prepareIncoming(spec: VmSpec, opts: { live: boolean }, ctx: CallContext = {}): Promise<MigrationEndpoint> {
    this.requireMigration(opts.live);
    assertSpecSizes(spec);
    return this.exclusive(spec.id, 'prepare incoming', async () => {
      // The incoming domain is started by the migration itself, on the same bridges: MAC and IP stay.
      if (opts.live) await this.host.plugNetworks(spec);
      return prepareIncoming(this.host, spec, opts, ctx);
    });
  }

  async migrate(spec: VmSpec, raw: MigrationEndpoint, opts: { live: boolean }, ctx: CallContext = {}): Promise<void> {
    this.requireMigration(opts.live);
    await this.exclusive(spec.id, 'migrate', async () => {
      await migrateOut(this.host, spec, raw, opts, ctx);
      await this.host.networks.unplug(spec.id);
    });
  }

  async finishIncoming(spec: VmSpec, opts: { live: boolean }, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'finish incoming', () => finishIncoming(this.host, spec, opts, ctx));
  }

  async abortIncoming(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'abort incoming', async () => {
      await abortIncoming(this.host, spec, ctx);
      if ((await this.host.domstate(spec.id, ctx)).state === 'absent') await this.host.networks.unplug(spec.id);
    });
  }

  async status(spec: VmSpec): Promise<DomainStatus> {
    return this.host.domstate(spec.id, {});
  }

  async openConsole(spec: VmSpec, ctx: CallContext = {}): Promise<ConsoleStream> {
    return openLibvirtConsole(this.host, { ...spec, id: assertSafeName('vm id', spec.id) }, ctx);
  }

  async consoleLog(spec: VmSpec, maxBytes: number): Promise<Buffer> {
    return libvirtConsoleLog(this.host, { ...spec, id: assertSafeName('vm id', spec.id) }, maxBytes);
  }

  /**
   * Every domain of the libvirtd: ours are `vl-<vmId>` with their files in this host's storage
   * dir; anything else (another tool's domain, another host's VM on the same daemon) is reported
   * `managed: false` and never touched.
   */
  async listDomains(): Promise<DomainInfo[]> {
    const out = await this.host.v(['domstats', '--state'], {});
    return parseDomstats(out).map((d) => {
      const vmId = d.name.startsWith(DOMAIN_PREFIX) ? d.name.slice(DOMAIN_PREFIX.length) : '';
      const managed = SAFE_NAME.test(vmId) && existsSync(this.host.files(vmId).vmDir);
      if (!managed) return { vmId: d.name, managed, state: d.state, detail: d.detail };
      const s = this.host.acknowledged(vmId, { state: d.state, detail: d.detail });
      return { vmId, managed, ...s };
    });
  }

  /**
   * Calls onChange(vmId) for every lifecycle event of one of our domains, whoever caused it
   * (`virsh event --loop`); the returned function stops watching. close() stops every watch.
   */
  watch(onChange: (vmId: string) => void, onError?: (message: string) => void): () => void {
    const stream = new DomainEventStream(
      this.uri,
      (e) => {
        if (!e.domain.startsWith(DOMAIN_PREFIX)) return;
        const vmId = e.domain.slice(DOMAIN_PREFIX.length);
        if (SAFE_NAME.test(vmId)) onChange(vmId);
      },
      { onError },
    );
    this.streams.add(stream);
    return () => {
      stream.stop();
      this.streams.delete(stream);
    };
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.stop();
    this.streams.clear();
  }

  private requireMigration(live: boolean): void {
    this.host.require(live ? 'liveMigration' : 'coldMigration', live ? 'live migration' : 'cold migration');
  }

  private async exclusive<T>(vmId: string, verb: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(assertSafeName('vm id', vmId), verb, fn);
  }

  private async active(
    spec: VmSpec,
    verb: string,
    ctx: CallContext,
    fn: (name: string, state: DomainState) => Promise<void>,
  ): Promise<void> {
    await this.exclusive(spec.id, verb, () => whileActive(this.host, spec, verb, ctx, fn));
  }
}

/** The factory the driver registry wires for kind `libvirt`. */
export function createLibvirtDriver(binding: HostBinding, policy?: HostPolicy): LibvirtDriver {
  return new LibvirtDriver(binding, policy);
}
