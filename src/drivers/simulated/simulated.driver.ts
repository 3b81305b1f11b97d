import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { deleteVolumeFiles, volumeImagePath, volumesDir } from '../kit/volume-files.js';
import {
  type DriverVolume,
  DriverError,
  type CallContext,
  type DomainInfo,
  type DomainState,
  type DomainStatus,
  type DriverCapabilities,
  type HostBinding,
  type HypervisorDriver,
  type MigrationEndpoint,
  type SnapshotInfo,
  type VmSpec,
} from '../hypervisor-driver.port.js';
import { DomainFileStore, newDomain, type SimDomain, type SimSnapshot } from './domain-file-store.js';
import { FaultInjector } from './fault-injector.js';
import { SimulatedMigration } from './simulated-migration.js';
import { parseSimulatedUri } from './simulated-options.js';
import {
  checkId,
  checkLiveResize,
  checkSnapshotName,
  illegal,
  incomingConflict,
  now,
  toSnapshotInfo,
} from './simulated-checks.js';

/**
 * A hypervisor that runs nothing: domains are JSON files under the host's
 * storage directory, so a restarted worker finds the VMs it left. It obeys the
 * port's contract (idempotent verbs, declared capabilities, error codes) and
 * can be told by its URI to be slow, flaky or hung, which is what control-plane
 * tests and benchmarks need from it. Every verb that changes a domain writes
 * its file (under the VM's lock, see DomainFileStore) before it reports success.
 */
export class SimulatedDriver implements HypervisorDriver {
  readonly kind = 'simulated';
  readonly capabilities: DriverCapabilities;
  private readonly store: DomainFileStore;
  private readonly faults: FaultInjector;
  private readonly migration: SimulatedMigration;

  constructor(readonly host: HostBinding) {
    if (!isAbsolute(host.storageDir)) {
      throw new Error(`simulated driver: storageDir must be absolute, got ${JSON.stringify(host.storageDir)}`);
    }
    const opts = parseSimulatedUri(host.uri);
    this.capabilities = Object.freeze({ ...opts.capabilities });
    this.faults = new FaultInjector(opts);
    this.store = new DomainFileStore(resolve(host.storageDir));
    this.migration = new SimulatedMigration(host, this.store, this.faults);
  }

  async define(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('define', ctx?.signal);
    await this.store.exclusive(spec.id, async () => {
      const existing = await this.store.load(spec.id);
      if (existing?.incoming) throw incomingConflict(spec.id, 'define');
      // Already defined: a retry of the same request; leave the domain as it is.
      if (existing) return;
      await this.store.store(newDomain(spec));
    });
  }

  async start(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('start', ctx?.signal);
    await this.change(spec.id, 'start', (d) => {
      if (d.state === 'running') return undefined;
      if (d.state === 'paused') throw new DriverError('conflict', `simulated: ${spec.id} is paused; resume it instead`);
      return { ...d, state: 'running', detail: undefined, bootCount: d.bootCount + 1 };
    });
  }

  async stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('stop', ctx?.signal);
    await this.change(spec.id, 'stop', (d) =>
      d.state === 'stopped' ? undefined : { ...d, state: 'stopped', detail: opts.force ? 'forced off' : 'shut down' },
    );
  }

  async reboot(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    this.requireCapability('reboot', 'reboot');
    await this.faults.enter('reboot', ctx?.signal);
    await this.change(spec.id, 'reboot', (d) => {
      if (d.state !== 'running') throw illegal(spec.id, 'reboot', d.state);
      return { ...d, bootCount: d.bootCount + 1, detail: undefined };
    });
  }

  async pause(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    this.requireCapability('pause', 'pause');
    await this.faults.enter('pause', ctx?.signal);
    await this.change(spec.id, 'pause', (d) => {
      if (d.state === 'paused') return undefined;
      if (d.state !== 'running') throw illegal(spec.id, 'pause', d.state);
      return { ...d, state: 'paused' };
    });
  }

  async resume(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    this.requireCapability('pause', 'resume');
    await this.faults.enter('resume', ctx?.signal);
    await this.change(spec.id, 'resume', (d) => {
      if (d.state === 'running') return undefined;
      if (d.state !== 'paused') throw illegal(spec.id, 'resume', d.state);
      return { ...d, state: 'running' };
    });
  }

  async destroy(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('destroy', ctx?.signal);
    await this.store.exclusive(spec.id, () => this.store.discard(spec.id));
  }

  async snapshot(spec: VmSpec, name: string, opts: { memory: boolean }, ctx?: CallContext): Promise<SnapshotInfo> {
    checkId(spec.id);
    checkSnapshotName(name);
    this.requireCapability(opts.memory ? 'memorySnapshots' : 'diskSnapshots', 'snapshot');
    await this.faults.enter('snapshot', ctx?.signal);
    let taken: SimSnapshot | undefined;
    await this.change(spec.id, 'snapshot', (d) => {
      const existing = d.snapshots.find((s) => s.name === name);
      if (existing) {
        if (existing.memory !== opts.memory) {
          throw new DriverError(
            'conflict',
            `simulated: snapshot ${name} of ${spec.id} exists with memory=${existing.memory}`,
          );
        }
        taken = existing;
        return undefined;
      }
      if (opts.memory && d.state !== 'running' && d.state !== 'paused') {
        throw new DriverError(
          'conflict',
          `simulated: a memory snapshot needs a running or paused VM; ${spec.id} is ${d.state}`,
        );
      }
      taken = {
        name,
        memory: opts.memory,
        createdAt: now(),
        restores: opts.memory ? (d.state as 'running' | 'paused') : 'stopped',
      };
      return { ...d, snapshots: [...d.snapshots, taken] };
    });
    return toSnapshotInfo(taken!);
  }

  async revert(spec: VmSpec, name: string, ctx?: CallContext): Promise<DomainState> {
    checkId(spec.id);
    checkSnapshotName(name);
    await this.faults.enter('revert', ctx?.signal);
    let restores: DomainState = 'stopped';
    await this.change(spec.id, 'revert', (d) => {
      const snap = d.snapshots.find((s) => s.name === name);
      if (!snap) throw new DriverError('not_found', `simulated: ${spec.id} has no snapshot ${name}`);
      restores = snap.restores;
      return { ...d, state: snap.restores, detail: `reverted to ${name}` };
    });
    return restores;
  }

  async deleteSnapshot(spec: VmSpec, name: string, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    checkSnapshotName(name);
    await this.faults.enter('deleteSnapshot', ctx?.signal);
    await this.change(spec.id, 'deleteSnapshot', (d) =>
      d.snapshots.some((s) => s.name === name)
        ? { ...d, snapshots: d.snapshots.filter((s) => s.name !== name) }
        : undefined,
    );
  }

  async listSnapshots(spec: VmSpec, ctx?: CallContext): Promise<SnapshotInfo[]> {
    checkId(spec.id);
    await this.faults.enter('listSnapshots', ctx?.signal);
    return (await this.usable(spec.id, 'listSnapshots')).snapshots.map(toSnapshotInfo);
  }

  async prepareIncoming(spec: VmSpec, opts: { live: boolean }, ctx?: CallContext): Promise<MigrationEndpoint> {
    checkId(spec.id);
    this.requireCapability(opts.live ? 'liveMigration' : 'coldMigration', 'prepareIncoming');
    return this.migration.prepareIncoming(spec, opts, ctx);
  }

  async migrate(spec: VmSpec, endpoint: MigrationEndpoint, opts: { live: boolean }, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    this.requireCapability(opts.live ? 'liveMigration' : 'coldMigration', 'migrate');
    return this.migration.migrate(spec, endpoint, opts, ctx);
  }

  async finishIncoming(spec: VmSpec, opts: { live: boolean }, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    return this.migration.finishIncoming(spec, opts, ctx);
  }

  async abortIncoming(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    return this.migration.abortIncoming(spec, ctx);
  }

  async status(spec: VmSpec): Promise<DomainStatus> {
    checkId(spec.id);
    await this.faults.enter('status', undefined);
    const d = await this.store.load(spec.id);
    return d ? this.describe(d) : { state: 'absent' };
  }

  async listDomains(): Promise<DomainInfo[]> {
    await this.faults.enter('listDomains', undefined);
    return (await this.store.loadAll()).map((d) => ({ vmId: d.vmId, managed: true, ...this.describe(d) }));
  }

  async close(): Promise<void> {
    // Nothing is held open: every call reads and writes its files directly.
  }

  private describe(d: SimDomain): DomainStatus {
    if (d.incoming) {
      return { state: 'migrating', detail: d.incoming.received ? 'incoming: received' : 'incoming: waiting' };
    }
    if (this.migration.migratingOut.has(d.vmId)) return { state: 'migrating', detail: 'outgoing' };
    return d.detail === undefined ? { state: d.state } : { state: d.state, detail: d.detail };
  }

  /** Volumes here are marker files at the real path: enough for the control plane's paths and tests. */
  async createVolume(volume: DriverVolume): Promise<void> {
    this.faults.maybeFail('createVolume');
    await mkdir(volumesDir(this.host.storageDir), { recursive: true });
    await writeFile(volumeImagePath(this.host.storageDir, volume), JSON.stringify(volume));
  }

  async resizeVolume(volume: DriverVolume): Promise<void> {
    this.faults.maybeFail('resizeVolume');
    await writeFile(volumeImagePath(this.host.storageDir, volume), JSON.stringify(volume));
  }

  async deleteVolume(volume: DriverVolume): Promise<void> {
    await deleteVolumeFiles(this.host.storageDir, volume);
  }

  async attachVolume(spec: VmSpec, volume: DriverVolume): Promise<void> {
    await this.usable(spec.id, 'attach a volume to');
    if (!existsSync(volumeImagePath(this.host.storageDir, volume))) {
      throw new DriverError('not_found', `simulated: volume ${volume.volumeId} has no file on host ${this.host.id}`);
    }
  }

  /** The domain's spec takes the new size; the stored spec (before it) holds the ceilings it started with. */
  async resizeLive(spec: VmSpec, to: { vcpus: number; memoryMiB: number; diskGiB: number }, ctx?: CallContext) {
    checkId(spec.id);
    await this.faults.enter('resizeLive', ctx?.signal);
    await this.change(spec.id, 'resize', (d) => {
      if (d.state !== 'running' && d.state !== 'paused') throw illegal(spec.id, 'resize', d.state);
      checkLiveResize(this.capabilities.hotResize, { ...d.spec, ...spec }, to);
      return { ...d, spec: { ...d.spec, ...to } };
    });
  }

  async detachVolume(spec: VmSpec): Promise<void> {
    await this.usable(spec.id, 'detach a volume from');
  }

  /** A defined domain that is not half-way through arriving here. */
  private async usable(vmId: string, verb: string): Promise<SimDomain> {
    const d = await this.store.load(vmId);
    if (!d) throw new DriverError('not_found', `simulated: ${vmId} is not defined on host ${this.host.id}`);
    if (d.incoming) throw incomingConflict(vmId, verb);
    return d;
  }

  /**
   * A read-modify-write of one usable domain under its lock: `next` gives the new domain
   * (undefined: nothing to change, a retry of a verb already done) or throws the verb's refusal.
   */
  private change(vmId: string, verb: string, next: (d: SimDomain) => SimDomain | undefined): Promise<void> {
    return this.store.exclusive(vmId, async () => {
      const changed = next(await this.usable(vmId, verb));
      if (changed) await this.store.store({ ...changed, updatedAt: now() });
    });
  }

  private requireCapability(cap: keyof DriverCapabilities, verb: string): void {
    if (!this.capabilities[cap]) {
      throw new DriverError(
        'unsupported',
        `simulated: host ${this.host.id} does not declare ${cap} (needed by ${verb})`,
      );
    }
  }
}
