import { randomUUID } from 'node:crypto';
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
  type Progress,
  type SnapshotInfo,
  type VmSpec,
} from '../hypervisor-driver.port.js';
import { DomainFileStore, type SimDomain } from './domain-file-store.js';
import { FaultInjector } from './fault-injector.js';
import { parseSimulatedUri } from './simulated-options.js';
import {
  checkId,
  checkLiveResize,
  checkSnapshotName,
  illegal,
  incomingConflict,
  now,
  parseEndpoint,
  toSnapshotInfo,
} from './simulated-checks.js';

const MIGRATION_STEPS = 4;

/**
 * A hypervisor that runs nothing: domains are JSON files under the host's
 * storage directory, so a restarted worker finds the VMs it left. It obeys the
 * port's contract (idempotent verbs, declared capabilities, error codes) and
 * can be told by its URI to be slow, flaky or hung, which is what control-plane
 * tests and benchmarks need from it.
 */
export class SimulatedDriver implements HypervisorDriver {
  readonly kind = 'simulated';
  readonly capabilities: DriverCapabilities;
  private readonly store: DomainFileStore;
  private readonly faults: FaultInjector;
  /** VMs this process is sending away right now; status says 'migrating' meanwhile. */
  private readonly migratingOut = new Set<string>();

  constructor(readonly host: HostBinding) {
    if (!isAbsolute(host.storageDir)) {
      throw new Error(`simulated driver: storageDir must be absolute, got ${JSON.stringify(host.storageDir)}`);
    }
    const opts = parseSimulatedUri(host.uri);
    this.capabilities = Object.freeze({ ...opts.capabilities });
    this.faults = new FaultInjector(opts);
    this.store = new DomainFileStore(resolve(host.storageDir));
  }

  async define(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('define', ctx?.signal);
    const existing = this.store.read(spec.id);
    if (existing?.incoming) throw incomingConflict(spec.id, 'define');
    // Already defined: a retry of the same request; leave the domain as it is.
    if (existing) return;
    this.store.write({
      schema: 1,
      vmId: spec.id,
      spec: { ...spec },
      state: 'stopped',
      snapshots: [],
      bootCount: 0,
      updatedAt: now(),
    });
  }

  async start(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('start', ctx?.signal);
    const d = this.usable(spec.id, 'start');
    if (d.state === 'running') return;
    if (d.state === 'paused') throw new DriverError('conflict', `simulated: ${spec.id} is paused; resume it instead`);
    this.save({ ...d, state: 'running', detail: undefined, bootCount: d.bootCount + 1 });
  }

  async stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('stop', ctx?.signal);
    const d = this.usable(spec.id, 'stop');
    if (d.state === 'stopped') return;
    this.save({ ...d, state: 'stopped', detail: opts.force ? 'forced off' : 'shut down' });
  }

  async reboot(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    this.requireCapability('reboot', 'reboot');
    await this.faults.enter('reboot', ctx?.signal);
    const d = this.usable(spec.id, 'reboot');
    if (d.state !== 'running') throw illegal(spec.id, 'reboot', d.state);
    this.save({ ...d, bootCount: d.bootCount + 1, detail: undefined });
  }

  async pause(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    this.requireCapability('pause', 'pause');
    await this.faults.enter('pause', ctx?.signal);
    const d = this.usable(spec.id, 'pause');
    if (d.state === 'paused') return;
    if (d.state !== 'running') throw illegal(spec.id, 'pause', d.state);
    this.save({ ...d, state: 'paused' });
  }

  async resume(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    this.requireCapability('pause', 'resume');
    await this.faults.enter('resume', ctx?.signal);
    const d = this.usable(spec.id, 'resume');
    if (d.state === 'running') return;
    if (d.state !== 'paused') throw illegal(spec.id, 'resume', d.state);
    this.save({ ...d, state: 'running' });
  }

  async destroy(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('destroy', ctx?.signal);
    this.store.remove(spec.id);
  }

  async snapshot(spec: VmSpec, name: string, opts: { memory: boolean }, ctx?: CallContext): Promise<SnapshotInfo> {
    checkId(spec.id);
    checkSnapshotName(name);
    this.requireCapability(opts.memory ? 'memorySnapshots' : 'diskSnapshots', 'snapshot');
    await this.faults.enter('snapshot', ctx?.signal);
    const d = this.usable(spec.id, 'snapshot');
    const existing = d.snapshots.find((s) => s.name === name);
    if (existing) {
      if (existing.memory !== opts.memory) {
        throw new DriverError(
          'conflict',
          `simulated: snapshot ${name} of ${spec.id} exists with memory=${existing.memory}`,
        );
      }
      return toSnapshotInfo(existing);
    }
    if (opts.memory && d.state !== 'running' && d.state !== 'paused') {
      throw new DriverError(
        'conflict',
        `simulated: a memory snapshot needs a running or paused VM; ${spec.id} is ${d.state}`,
      );
    }
    const snap = {
      name,
      memory: opts.memory,
      createdAt: now(),
      restores: opts.memory ? (d.state as 'running' | 'paused') : ('stopped' as const),
    };
    this.save({ ...d, snapshots: [...d.snapshots, snap] });
    return toSnapshotInfo(snap);
  }

  async revert(spec: VmSpec, name: string, ctx?: CallContext): Promise<DomainState> {
    checkId(spec.id);
    checkSnapshotName(name);
    await this.faults.enter('revert', ctx?.signal);
    const d = this.usable(spec.id, 'revert');
    const snap = d.snapshots.find((s) => s.name === name);
    if (!snap) throw new DriverError('not_found', `simulated: ${spec.id} has no snapshot ${name}`);
    this.save({ ...d, state: snap.restores, detail: `reverted to ${name}` });
    return snap.restores;
  }

  async deleteSnapshot(spec: VmSpec, name: string, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    checkSnapshotName(name);
    await this.faults.enter('deleteSnapshot', ctx?.signal);
    const d = this.usable(spec.id, 'deleteSnapshot');
    if (!d.snapshots.some((s) => s.name === name)) return;
    this.save({ ...d, snapshots: d.snapshots.filter((s) => s.name !== name) });
  }

  async listSnapshots(spec: VmSpec, ctx?: CallContext): Promise<SnapshotInfo[]> {
    checkId(spec.id);
    await this.faults.enter('listSnapshots', ctx?.signal);
    return this.usable(spec.id, 'listSnapshots').snapshots.map(toSnapshotInfo);
  }

  async prepareIncoming(spec: VmSpec, opts: { live: boolean }, ctx?: CallContext): Promise<MigrationEndpoint> {
    checkId(spec.id);
    this.requireCapability(opts.live ? 'liveMigration' : 'coldMigration', 'prepareIncoming');
    await this.faults.enter('prepareIncoming', ctx?.signal);
    const existing = this.store.read(spec.id);
    if (existing && !existing.incoming) {
      throw new DriverError('conflict', `simulated: ${spec.id} is already defined on host ${this.host.id}`);
    }
    if (existing?.incoming) {
      if (existing.incoming.live !== opts.live) {
        throw new DriverError(
          'conflict',
          `simulated: ${spec.id} is already expected with live=${existing.incoming.live}`,
        );
      }
      return this.endpoint(existing.incoming.token);
    }
    const token = randomUUID();
    this.store.write({
      schema: 1,
      vmId: spec.id,
      spec: { ...spec },
      state: 'stopped',
      snapshots: [],
      incoming: { token, live: opts.live, received: false },
      bootCount: 0,
      updatedAt: now(),
    });
    return this.endpoint(token);
  }

  /**
   * The hand-off goes through the file system: both hosts live on this
   * machine, so "sending" is writing the domain into the target's directory
   * and then removing it here. Written before removed: a crash in between
   * leaves two copies (which abortIncoming can resolve), never none.
   */
  async migrate(spec: VmSpec, endpoint: MigrationEndpoint, opts: { live: boolean }, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    this.requireCapability(opts.live ? 'liveMigration' : 'coldMigration', 'migrate');
    const { targetDir, token } = parseEndpoint(endpoint);
    if (targetDir === this.store.dir) throw new DriverError('conflict', `simulated: ${spec.id}: target is this host`);
    const target = new DomainFileStore(targetDir);
    await this.faults.hangIfAsked('migrate', ctx?.signal);

    const check = (): SimDomain | undefined => {
      const src = this.store.read(spec.id);
      const tgt = target.read(spec.id);
      if (!src) {
        // Already handed over by an earlier attempt whose answer was lost.
        if (tgt && (!tgt.incoming || (tgt.incoming.received && tgt.incoming.token === token))) return undefined;
        throw new DriverError('not_found', `simulated: ${spec.id} is not defined on host ${this.host.id}`);
      }
      if (src.incoming) throw incomingConflict(spec.id, 'migrate');
      const movable = opts.live ? src.state === 'running' || src.state === 'paused' : src.state === 'stopped';
      if (!movable) throw illegal(spec.id, opts.live ? 'migrate live' : 'migrate cold', src.state);
      if (!tgt?.incoming || tgt.incoming.token !== token) {
        throw new DriverError('conflict', `simulated: target is not prepared for ${spec.id} (unknown token)`);
      }
      if (tgt.incoming.live !== opts.live) {
        throw new DriverError('conflict', `simulated: target expects live=${tgt.incoming.live} for ${spec.id}`);
      }
      return src;
    };

    if (!check()) return;
    const totalBytes = opts.live ? spec.memoryMiB * 2 ** 20 : spec.diskGiB * 2 ** 30;
    const report = (step: number): void => {
      const transferredBytes = Math.round((totalBytes * step) / MIGRATION_STEPS);
      const p: Progress = {
        percent: Math.round((100 * step) / MIGRATION_STEPS),
        transferredBytes,
        remainingBytes: totalBytes - transferredBytes,
        totalBytes,
        message: step === MIGRATION_STEPS ? 'handed over' : 'copying',
      };
      try {
        ctx?.onProgress?.(p);
      } catch {
        // A broken progress sink must not fail a migration that is otherwise fine.
      }
    };

    this.migratingOut.add(spec.id);
    try {
      // Each step costs a full latency: a migration is several round-trips, and a
      // status call during it must be able to see 'migrating'.
      for (let step = 1; step < MIGRATION_STEPS; step++) {
        await this.faults.wait('migrate', this.faults.latencyMs, ctx?.signal);
        report(step);
      }
      await this.faults.wait('migrate', this.faults.latencyMs, ctx?.signal);
      this.faults.maybeFail('migrate');
      // The VM may have been stopped or destroyed while we were "copying".
      const src = check();
      if (!src) return;
      target.write({
        ...src,
        incoming: { token, live: opts.live, received: true, from: this.store.dir },
        updatedAt: now(),
      });
      this.store.remove(spec.id);
      report(MIGRATION_STEPS);
    } finally {
      this.migratingOut.delete(spec.id);
    }
  }

  async finishIncoming(spec: VmSpec, opts: { live: boolean }, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('finishIncoming', ctx?.signal);
    const d = this.require(spec.id);
    // Finished by an earlier attempt; the VM may have been used since, so leave it alone.
    if (!d.incoming) return;
    if (!d.incoming.received) throw new DriverError('conflict', `simulated: ${spec.id} has not been received yet`);
    if (d.incoming.live !== opts.live) {
      throw new DriverError('conflict', `simulated: ${spec.id} was received with live=${d.incoming.live}`);
    }
    this.save({ ...d, incoming: undefined, state: opts.live ? 'running' : 'stopped', detail: 'migrated in' });
  }

  async abortIncoming(spec: VmSpec, ctx?: CallContext): Promise<void> {
    checkId(spec.id);
    await this.faults.enter('abortIncoming', ctx?.signal);
    const d = this.store.read(spec.id);
    if (!d) return;
    if (!d.incoming) {
      throw new DriverError(
        'conflict',
        `simulated: ${spec.id} is a finished domain on ${this.host.id}, not an incoming one`,
      );
    }
    // Received and gone from the source: this copy is the only one left; deleting it would lose the VM.
    const from = d.incoming.from;
    if (d.incoming.received && from && !new DomainFileStore(from).read(spec.id)) {
      throw new DriverError('conflict', `simulated: ${spec.id} was already handed over; finish the migration instead`);
    }
    this.store.remove(spec.id);
  }

  async status(spec: VmSpec): Promise<DomainStatus> {
    checkId(spec.id);
    await this.faults.enter('status', undefined);
    const d = this.store.read(spec.id);
    return d ? this.describe(d) : { state: 'absent' };
  }

  async listDomains(): Promise<DomainInfo[]> {
    await this.faults.enter('listDomains', undefined);
    return this.store.list().map((d) => ({ vmId: d.vmId, managed: true, ...this.describe(d) }));
  }

  async close(): Promise<void> {
    // Nothing is held open: every call reads and writes its files directly.
  }

  private describe(d: SimDomain): DomainStatus {
    if (d.incoming) {
      return { state: 'migrating', detail: d.incoming.received ? 'incoming: received' : 'incoming: waiting' };
    }
    if (this.migratingOut.has(d.vmId)) return { state: 'migrating', detail: 'outgoing' };
    return d.detail === undefined ? { state: d.state } : { state: d.state, detail: d.detail };
  }

  private endpoint(token: string): MigrationEndpoint {
    return { host: this.store.dir, token };
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
    this.usable(spec.id, 'attach a volume to');
    if (!existsSync(volumeImagePath(this.host.storageDir, volume))) {
      throw new DriverError('not_found', `simulated: volume ${volume.volumeId} has no file on host ${this.host.id}`);
    }
  }

  /** The domain's spec takes the new size; the stored spec (before it) holds the ceilings it started with. */
  async resizeLive(spec: VmSpec, to: { vcpus: number; memoryMiB: number; diskGiB: number }, ctx?: CallContext) {
    checkId(spec.id);
    await this.faults.enter('resizeLive', ctx?.signal);
    const d = this.usable(spec.id, 'resize');
    if (d.state !== 'running' && d.state !== 'paused') throw illegal(spec.id, 'resize', d.state);
    checkLiveResize(this.capabilities.hotResize, { ...d.spec, ...spec }, to);
    this.save({ ...d, spec: { ...d.spec, ...to } });
  }

  async detachVolume(spec: VmSpec): Promise<void> {
    this.usable(spec.id, 'detach a volume from');
  }

  private require(vmId: string): SimDomain {
    const d = this.store.read(vmId);
    if (!d) throw new DriverError('not_found', `simulated: ${vmId} is not defined on host ${this.host.id}`);
    return d;
  }

  /** A defined domain that is not half-way through arriving here. */
  private usable(vmId: string, verb: string): SimDomain {
    const d = this.require(vmId);
    if (d.incoming) throw incomingConflict(vmId, verb);
    return d;
  }

  private save(d: SimDomain): void {
    this.store.write({ ...d, updatedAt: now() });
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
