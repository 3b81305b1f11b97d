import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import {
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
import { toDriverError } from '../kit/driver-errors.js';
import { VmLock } from '../kit/vm-lock.js';
import { isKernelImage, kernelBootOf } from '../qemu/qemu-domain.js';
import { createQcow2, imageInfo, isImageInUse } from '../kit/qemu-img.js';
import { SAFE_NAME, assertSafeName, assertSpecSizes, diskBytesOf } from '../kit/safe-name.js';
import { readJson, storageId, writeJsonAtomic } from '../kit/vm-files.js';
import { DomainEventStream } from './domain-events.js';
import { parseDomstate, parseDomstats } from './domain-state.js';
import { domainXml } from './domain-xml.js';
import { capabilitiesFor, resolveDomainType } from './libvirt-capabilities.js';
import {
  activeDisk,
  assertRevertableInternal,
  deleteExternal,
  deleteInternal,
  findExternal,
  handOverChain,
  listExternal,
  migrationBlocker,
  readChainRecord,
  revertExternal,
  takeExternal,
  tidy,
  type DiskChainScope,
} from './libvirt-external-snapshots.js';
import { parseSnapshotList } from './libvirt-snapshots.js';
import { parseLibvirtUri, type LibvirtHostConfig } from './libvirt-uri.js';
import { parseEndpoint, toWire, type LibvirtEndpoint } from './migration-endpoint.js';
import { handOverSnapshots, migrateLive, redefineSnapshots, type VirshCall } from './libvirt-migration.js';
import { isInvalidState, isNotFound, virsh } from './virsh.js';

/** Every domain this driver defines is named `vl-<vmId>`; other domains are reported unmanaged. */
export const DOMAIN_PREFIX = 'vl-';
const POLL_MS = 250;

interface VmFiles {
  vmDir: string;
  disk: string;
  xml: string;
  incoming: string;
  consoleLog: string;
  /** Written when stop acknowledges a crashed domain: libvirt keeps saying "crashed" until the next start. */
  stopAck: string;
}

interface IncomingRecord {
  createdVmDir: boolean;
  createdDisk: boolean;
  endpoint: MigrationEndpoint;
}

/**
 * The libvirt driver: every verb is a `virsh -c <uri>` child process with a deadline (virsh.ts);
 * the domain XML is generated from the VmSpec (domain-xml.ts); disks are qcow2 files under the
 * host's storage dir, `<storage>/<vmId>/disk.qcow2`, which the QEMU user (libvirt-qemu) must be
 * able to reach: the dirs made here are 0711.
 * - Host URI: any libvirt URI plus our parameters (libvirt-uri.ts), e.g. `qemu:///system`.
 * - Snapshots: memory ones are libvirt internal snapshots; disk-only ones (and any of a stopped
 *   VM) are external: an overlay file per snapshot, reverted and deleted here since libvirt 9
 *   cannot (libvirt-external-snapshots.ts).
 * - Migration: `virsh migrate --live --p2p` to the target's libvirtd, `--copy-storage-all` unless
 *   both hosts see the same storage.
 * - watch(): `virsh event` lifecycle events, so reconciliation hears of an outside stop at once.
 */
export class LibvirtDriver implements HypervisorDriver {
  readonly kind = 'libvirt';
  readonly capabilities: DriverCapabilities;
  readonly config: LibvirtHostConfig;
  readonly storageDir: string;
  private readonly lock = new VmLock();
  private readonly streams = new Set<DomainEventStream>();

  constructor(private readonly binding: HostBinding) {
    this.config = parseLibvirtUri(binding.uri);
    const storageDir = normalize(this.config.storageDir ?? binding.storageDir);
    if (!isAbsolute(storageDir)) throw new Error(`storage dir must be absolute, got ${storageDir}`);
    this.storageDir = storageDir;
    this.capabilities = capabilitiesFor(this.config);
  }

  get uri(): string {
    return this.config.connectUri;
  }

  domainName(vmId: string): string {
    return `${DOMAIN_PREFIX}${assertSafeName('vm id', vmId)}`;
  }

  files(vmId: string): VmFiles {
    const vmDir = join(this.storageDir, assertSafeName('vm id', vmId));
    return {
      vmDir,
      disk: join(vmDir, 'disk.qcow2'),
      xml: join(vmDir, 'domain.xml'),
      incoming: join(vmDir, 'incoming.json'),
      consoleLog: join(vmDir, 'console.log'),
      stopAck: join(vmDir, 'crash-acknowledged'),
    };
  }

  async define(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    assertSpecSizes(spec);
    await this.exclusive(spec.id, 'define', async () => {
      const f = this.files(spec.id);
      const kernel = isKernelImage(spec) ? kernelBootOf(spec) : undefined;
      const base = kernel ? undefined : await this.baseImage(spec);
      this.ensureStorageDir(f.vmDir);
      if (!existsSync(f.disk)) {
        const part = `${f.disk}.part`;
        rmSync(part, { force: true });
        await createQcow2(part, diskBytesOf(spec), base);
        // A crash never leaves a half-made disk that a retried define would keep.
        renameSync(part, f.disk);
      }
      // A redefine keeps the disk file snapshots may have moved the VM to.
      const defined = (await this.domstate(spec.id, ctx)).state !== 'absent';
      await this.defineXml(spec, f, ctx, defined ? await activeDisk(this.chain(spec, ctx)) : f.disk);
    });
  }

  async start(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'start', async () => {
      const s = await this.domstate(spec.id, ctx);
      if (s.state === 'absent') throw new DriverError('not_found', `VM ${spec.id} is not defined on ${this.uri}`);
      if (s.state === 'running') return;
      if (s.state === 'migrating') throw new DriverError('conflict', `VM ${spec.id} is migrating (${s.detail})`);
      if (existsSync(this.files(spec.id).incoming)) {
        throw new DriverError('conflict', `an incoming migration of ${spec.id} is prepared here; finish or abort it`);
      }
      if (s.state === 'paused') {
        await this.v(['resume', this.domainName(spec.id)], ctx);
        return;
      }
      rmSync(this.files(spec.id).stopAck, { force: true });
      await this.v(['start', this.domainName(spec.id)], ctx);
    });
  }

  async stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'stop', async () => {
      const name = this.domainName(spec.id);
      const s = await this.domstate(spec.id, ctx);
      if (s.state === 'absent') throw new DriverError('not_found', `VM ${spec.id} is not defined on ${this.uri}`);
      if (s.state === 'migrating') throw new DriverError('conflict', `VM ${spec.id} is migrating (${s.detail})`);
      if (s.state === 'crashed') writeFileSync(this.files(spec.id).stopAck, `${new Date().toISOString()}\n`);
      if (!isActive(s.state)) return;
      // A paused guest cannot answer ACPI; waiting for it would only delay the inevitable destroy.
      if (!opts.force && s.state === 'running') {
        await this.v(['shutdown', name, '--mode', 'acpi'], ctx).catch((err: unknown) => {
          if (!isInvalidState(err)) throw err;
        });
        const deadline = Date.now() + (opts.timeoutMs ?? this.config.stopTimeoutMs);
        while (Date.now() < deadline) {
          if (!isActive((await this.domstate(spec.id, ctx)).state)) return;
          await sleep(POLL_MS);
        }
      }
      await this.hardStop(spec.id, ctx);
    });
  }

  async reboot(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.require('reboot', 'reboot');
    await this.whileActive(spec, 'reboot', ctx, async (name) => {
      // A reset, like the qemu driver's system_reset: it works whether or not the guest handles ACPI.
      await this.v(['reset', name], ctx);
    });
  }

  async pause(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.require('pause', 'pause');
    await this.whileActive(spec, 'pause', ctx, async (name, state) => {
      if (state === 'running') await this.v(['suspend', name], ctx);
    });
  }

  async resume(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.require('pause', 'resume');
    await this.whileActive(spec, 'resume', ctx, async (name, state) => {
      if (state === 'paused') await this.v(['resume', name], ctx);
    });
  }

  async destroy(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'destroy', async () => {
      const f = this.files(spec.id);
      const s = await this.domstate(spec.id, ctx);
      if (s.state !== 'absent') {
        if (isActive(s.state)) await this.hardStop(spec.id, ctx);
        await this.v(['undefine', this.domainName(spec.id), '--snapshots-metadata', '--managed-save'], ctx).catch(
          (err: unknown) => {
            if (!isNotFound(err)) throw err;
          },
        );
      } else if (existsSync(f.disk) && (await isImageInUse(f.disk))) {
        // Shared storage after a migration: the domain is gone from here and the disk now belongs to
        // the QEMU on another host. Nothing of this host is left; deleting it would pull it from that guest.
        return;
      }
      rmSync(f.vmDir, { recursive: true, force: true });
    });
  }

  async snapshot(spec: VmSpec, name: string, opts: { memory: boolean }, ctx: CallContext = {}): Promise<SnapshotInfo> {
    assertSafeName('snapshot name', name);
    return this.exclusive(spec.id, 'snapshot', async () => {
      const s = await this.domstate(spec.id, ctx);
      if (s.state === 'absent') throw new DriverError('not_found', `VM ${spec.id} is not defined on ${this.uri}`);
      if (s.state === 'migrating') throw new DriverError('conflict', `VM ${spec.id} is migrating`);
      // Memory: libvirt's internal snapshot (savevm into the disk file). Disk only, running or
      // not, and anything asked of a stopped VM (it has no memory to keep): an external one.
      const memory = opts.memory && isActive(s.state);
      this.require(memory ? 'memorySnapshots' : 'diskSnapshots', memory ? 'a memory snapshot' : 'a disk snapshot');
      const existing = (await this.snapshots(spec.id, ctx)).find((x) => x.name === name);
      if (existing) {
        // A retried request must not fail on its own first success; a different snapshot under that name must.
        if (existing.memory === memory) return existing;
        throw new DriverError(
          'conflict',
          `VM ${spec.id} already has a ${existing.memory ? 'memory' : 'disk-only'} snapshot named ${name}`,
        );
      }
      if (!memory) return takeExternal(this.chain(spec, ctx), name);
      await this.v(['snapshot-create-as', this.domainName(spec.id), name, '--atomic'], ctx);
      const taken = (await this.snapshots(spec.id, ctx)).find((x) => x.name === name);
      if (!taken) throw new DriverError('failed', `snapshot ${name} of ${spec.id} is not listed after creation`);
      return taken;
    });
  }

  async revert(spec: VmSpec, name: string, ctx: CallContext = {}): Promise<DomainState> {
    assertSafeName('snapshot name', name);
    return this.exclusive(spec.id, 'revert', async () => {
      const chain = this.chain(spec, ctx);
      const external = findExternal(chain.vmDir, name);
      if (external) {
        // A disk-only snapshot has no running machine to come back to: the VM ends stopped.
        if (isActive((await this.domstate(spec.id, ctx)).state)) await this.hardStop(spec.id, ctx);
        await revertExternal(chain, external);
      } else {
        if (!(await this.snapshots(spec.id, ctx)).some((s) => s.name === name)) {
          throw new DriverError('not_found', `VM ${spec.id} has no snapshot ${name}`);
        }
        await assertRevertableInternal(chain, name);
        // libvirt restores the definition saved with the snapshot, its disk file included, and
        // brings the VM back running (memory) or stopped (an internal disk-only one).
        await this.v(['snapshot-revert', this.domainName(spec.id), name], ctx);
        await tidy(chain);
      }
      return (await this.domstate(spec.id, ctx)).state;
    });
  }

  async deleteSnapshot(spec: VmSpec, name: string, ctx: CallContext = {}): Promise<void> {
    assertSafeName('snapshot name', name);
    await this.exclusive(spec.id, 'delete snapshot', async () => {
      if ((await this.domstate(spec.id, ctx)).state === 'absent') {
        throw new DriverError('not_found', `VM ${spec.id} is not defined on ${this.uri}`);
      }
      const chain = this.chain(spec, ctx);
      const external = findExternal(chain.vmDir, name);
      if (external) {
        await deleteExternal(chain, external);
        return;
      }
      if (!(await this.snapshots(spec.id, ctx)).some((x) => x.name === name)) return; // already gone
      await deleteInternal(chain, name);
    });
  }

  async listSnapshots(spec: VmSpec, ctx: CallContext = {}): Promise<SnapshotInfo[]> {
    try {
      return await this.snapshots(spec.id, ctx);
    } catch (err) {
      throw toDriverError(err, `list snapshots of ${spec.id}`);
    }
  }

  async prepareIncoming(spec: VmSpec, opts: { live: boolean }, ctx: CallContext = {}): Promise<MigrationEndpoint> {
    this.require(opts.live ? 'liveMigration' : 'coldMigration', opts.live ? 'live migration' : 'cold migration');
    assertSpecSizes(spec);
    return this.exclusive(spec.id, 'prepare incoming', async () => {
      const peerUri = this.config.peerUri;
      if (!peerUri) {
        throw new DriverError(
          'unsupported',
          `host ${this.binding.id} (${this.uri}) cannot receive a migration: its URI has no peerUri= that other libvirtds can reach`,
        );
      }
      const f = this.files(spec.id);
      const previous = readJson<IncomingRecord>(f.incoming);
      if (previous) return previous.endpoint; // a retried prepare answers the same
      const s = await this.domstate(spec.id, ctx);
      if (s.state !== 'absent') throw new DriverError('conflict', `VM ${spec.id} is already defined on ${this.uri}`);
      const createdVmDir = !existsSync(f.vmDir);
      this.ensureStorageDir(f.vmDir);
      // On shared storage the source's disk is already here, and is kept as it is.
      const createdDisk = !existsSync(f.disk);
      if (createdDisk) await createQcow2(f.disk, diskBytesOf(spec));
      const endpoint: LibvirtEndpoint = {
        driver: 'libvirt',
        mode: opts.live ? 'live' : 'cold',
        uri: peerUri,
        migrationHost: this.config.migrationHost ?? '',
        storageId: storageId(this.storageDir),
        diskPath: f.disk,
        diskBytes: diskBytesOf(spec),
      };
      const record: IncomingRecord = { createdVmDir, createdDisk, endpoint: toWire(endpoint) };
      writeJsonAtomic(f.incoming, record);
      return record.endpoint;
    });
  }

  async migrate(spec: VmSpec, raw: MigrationEndpoint, opts: { live: boolean }, ctx: CallContext = {}): Promise<void> {
    this.require(opts.live ? 'liveMigration' : 'coldMigration', opts.live ? 'live migration' : 'cold migration');
    const endpoint = parseEndpoint(raw, spec.id);
    await this.exclusive(spec.id, 'migrate', async () => {
      const name = this.domainName(spec.id);
      const s = await this.domstate(spec.id, ctx);
      if (s.state === 'absent') {
        // A redelivered migrate after the first one succeeded: the VM already lives on the target.
        // (cold: the definition left here once the disk was at the target's path; finishIncoming defines it there)
        if (!opts.live && existsSync(endpoint.diskPath)) return;
        const there = await this.domstateAt(endpoint.uri, name, ctx);
        if (there.state !== 'absent') return;
        throw new DriverError('not_found', `VM ${spec.id} is neither on ${this.uri} nor on ${endpoint.uri}`);
      }
      const shared = endpoint.storageId === storageId(this.storageDir);
      const f = this.files(spec.id);
      const chain = this.chain(spec, ctx);
      if (opts.live) {
        if (!isActive(s.state)) throw new DriverError('conflict', `a live migration needs VM ${spec.id} running`);
        // Deleted snapshots can leave the disk in disk.<n>.qcow2; the target mirrors it into disk.qcow2.
        const disk = await activeDisk(chain);
        const blocker = await migrationBlocker(chain, disk);
        if (blocker) throw new DriverError('conflict', `VM ${spec.id} cannot migrate live: ${blocker}`);
        const m = { uri: this.uri, domain: name, vmDir: f.vmDir, disk, endpoint, shared };
        await migrateLive(this.virshCall, { ...m, timeoutMs: this.config.migrationTimeoutMs }, ctx);
      } else {
        if (isActive(s.state)) throw new DriverError('conflict', `a cold migration needs VM ${spec.id} stopped`);
        // Cold: the disk files, external snapshots included, go to the target's dir (nothing to
        // copy on shared storage) and finishIncoming defines the domain there; `virsh migrate
        // --offline` would move the definition only.
        await handOverChain(chain, shared ? undefined : dirname(endpoint.diskPath), this.config.migrationTimeoutMs);
        await handOverSnapshots(this.virshCall, name, f.vmDir, endpoint, ctx);
        await this.v(['undefine', name, '--snapshots-metadata', '--managed-save'], ctx);
      }
      if (!shared) rmSync(f.vmDir, { recursive: true, force: true });
    });
  }

  async finishIncoming(spec: VmSpec, opts: { live: boolean }, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'finish incoming', async () => {
      const f = this.files(spec.id);
      const s = await this.domstate(spec.id, ctx);
      const prepared = existsSync(f.incoming);
      if (s.state === 'absent' && !prepared) {
        throw new DriverError('not_found', `no migration of ${spec.id} was prepared on ${this.uri}`);
      }
      if (opts.live && !isActive(s.state) && s.state !== 'migrating') {
        throw new DriverError(
          'failed',
          `VM ${spec.id} is not running on ${this.uri} after the migration (${s.detail ?? s.state})`,
        );
      }
      // Our own definition (this host's disk path and id in the metadata) becomes the persistent
      // one; on shared storage the running disk may be a disk.<n>.qcow2 left by snapshot deletions.
      const chain = this.chain(spec, ctx);
      const disk = s.state === 'absent' ? (readChainRecord(f.vmDir).active ?? f.disk) : await activeDisk(chain);
      await this.defineXml(spec, f, ctx, disk);
      const known = new Set((await this.snapshots(spec.id, ctx)).map((x) => x.name));
      await redefineSnapshots(this.virshCall, this.domainName(spec.id), f.vmDir, known, ctx);
      // The empty disk.qcow2 prepareIncoming made is not needed when the VM arrived on other files.
      if (!opts.live) await tidy(chain);
      rmSync(f.incoming, { force: true });
    });
  }

  async abortIncoming(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    await this.exclusive(spec.id, 'abort incoming', async () => {
      const f = this.files(spec.id);
      const record = readJson<IncomingRecord>(f.incoming);
      if (!record) return;
      const s = await this.domstate(spec.id, ctx);
      if (s.state === 'absent') {
        if (record.createdVmDir) rmSync(f.vmDir, { recursive: true, force: true });
        else if (record.createdDisk) rmSync(f.disk, { force: true });
      }
      rmSync(f.incoming, { force: true });
    });
  }

  async status(spec: VmSpec): Promise<DomainStatus> {
    return this.domstate(spec.id, {});
  }

  /**
   * Every domain of the libvirtd: ours are `vl-<vmId>` with their files in this host's storage
   * dir; anything else (another tool's domain, another host's VM on the same daemon) is reported
   * `managed: false` and never touched.
   */
  async listDomains(): Promise<DomainInfo[]> {
    const out = await this.v(['domstats', '--state'], {});
    return parseDomstats(out).map((d) => {
      const vmId = d.name.startsWith(DOMAIN_PREFIX) ? d.name.slice(DOMAIN_PREFIX.length) : '';
      const managed = SAFE_NAME.test(vmId) && existsSync(this.files(vmId).vmDir);
      if (!managed) return { vmId: d.name, managed, state: d.state, detail: d.detail };
      const s = this.acknowledged(vmId, { state: d.state, detail: d.detail });
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

  private async defineXml(spec: VmSpec, f: VmFiles, ctx: CallContext, disk = f.disk): Promise<void> {
    const xml = domainXml({
      domainName: this.domainName(spec.id),
      vmId: spec.id,
      title: spec.name,
      hostId: this.binding.id,
      domainType: resolveDomainType(this.config),
      vcpus: spec.vcpus,
      memoryMiB: spec.memoryMiB,
      disk,
      consoleLog: f.consoleLog,
      kernel: isKernelImage(spec) ? kernelBootOf(spec) : undefined,
    });
    writeFileSync(f.xml, xml);
    await this.v(['define', f.xml], ctx);
  }

  /** The VM's disk files and snapshot record, for libvirt-external-snapshots.ts. */
  private chain(spec: VmSpec, ctx: CallContext): DiskChainScope {
    const f = this.files(spec.id);
    return {
      virsh: this.virshCall,
      domain: this.domainName(spec.id),
      vmDir: f.vmDir,
      ctx,
      running: async () => isActive((await this.domstate(spec.id, ctx)).state),
      defineWithDisk: (disk) => this.defineXml(spec, f, ctx, disk),
    };
  }

  private async hardStop(vmId: string, ctx: CallContext): Promise<void> {
    await this.v(['destroy', this.domainName(vmId)], ctx).catch((err: unknown) => {
      if (!isInvalidState(err) && !isNotFound(err)) throw err; // already stopped: the end state asked for
    });
  }

  private async snapshots(vmId: string, ctx: CallContext): Promise<SnapshotInfo[]> {
    // In the order they were taken: by creation time (whole seconds), ties kept in topological
    // order, parents before children (virsh's default order is by name).
    const out = await this.v(['snapshot-list', this.domainName(vmId), '--topological'], ctx);
    const all = [...parseSnapshotList(out), ...listExternal(this.files(vmId).vmDir)];
    return all.sort((x, y) => (x.createdAt ?? '').localeCompare(y.createdAt ?? ''));
  }

  private async domstate(vmId: string, ctx: CallContext): Promise<DomainStatus> {
    return this.acknowledged(vmId, await this.domstateAt(this.uri, this.domainName(vmId), ctx));
  }

  /** A crash the control plane acknowledged with a stop reads as stopped (libvirt only forgets it at the next start). */
  private acknowledged<T extends DomainStatus>(vmId: string, s: T): T {
    if (s.state !== 'crashed' || !existsSync(this.files(vmId).stopAck)) return s;
    return { ...s, state: 'stopped', detail: `${s.detail ?? 'crashed'}, acknowledged by a stop` };
  }

  private async domstateAt(uri: string, name: string, ctx: CallContext): Promise<DomainStatus> {
    try {
      return parseDomstate(await virsh(uri, ['domstate', '--reason', name], this.opts(ctx)));
    } catch (err) {
      if (isNotFound(err)) return { state: 'absent' };
      throw err;
    }
  }

  private readonly virshCall: VirshCall = (args, ctx, timeoutMs) => this.v(args, ctx, timeoutMs);

  private v(args: string[], ctx: CallContext, timeoutMs?: number): Promise<string> {
    return virsh(this.uri, args, this.opts(ctx, timeoutMs));
  }

  private opts(ctx: CallContext, timeoutMs?: number): { timeoutMs: number; signal?: AbortSignal } {
    return { timeoutMs: timeoutMs ?? this.config.callTimeoutMs, signal: ctx.signal };
  }

  /** An undeclared capability is refused before anything is touched (the API refuses it first, with 422). */
  private require(cap: keyof Omit<DriverCapabilities, 'hardwareAcceleration'>, verb: string): void {
    if (this.capabilities[cap]) return;
    throw new DriverError(
      'unsupported',
      `${verb} is not supported on host ${this.binding.id} (${this.uri}): no ${cap}`,
    );
  }

  private async exclusive<T>(vmId: string, verb: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(assertSafeName('vm id', vmId), verb, fn);
  }

  private async whileActive(
    spec: VmSpec,
    verb: string,
    ctx: CallContext,
    fn: (name: string, state: DomainState) => Promise<void>,
  ): Promise<void> {
    await this.exclusive(spec.id, verb, async () => {
      const s = await this.domstate(spec.id, ctx);
      if (s.state === 'absent') throw new DriverError('not_found', `VM ${spec.id} is not defined on ${this.uri}`);
      if (s.state === 'migrating') throw new DriverError('conflict', `VM ${spec.id} cannot ${verb} while migrating`);
      if (!isActive(s.state))
        throw new DriverError('conflict', `VM ${spec.id} is not running (${s.detail ?? s.state})`);
      await fn(this.domainName(spec.id), s.state);
    });
  }

  /**
   * The QEMU that libvirt starts runs as its own user (libvirt-qemu on Debian), so it needs search
   * permission on every directory down to the disk; the ones made here are 0711, and a parent
   * that blocks it is reported now rather than as an obscure "Permission denied" at start.
   */
  private ensureStorageDir(vmDir: string): void {
    for (const dir of [this.storageDir, vmDir]) {
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o711 });
      const mode = statSync(dir).mode & 0o777;
      if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o111);
    }
    if (!this.config.local) return;
    for (let dir = dirname(this.storageDir); dir !== dirname(dir); dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) {
        throw new DriverError(
          'failed',
          `${dir} is not searchable by others: libvirt's QEMU user cannot reach ${vmDir}`,
        );
      }
    }
  }

  /** `spec.image`: a base qcow2 (absolute path) to overlay, checked to fit in diskGiB. */
  private async baseImage(spec: VmSpec): Promise<string | undefined> {
    const image = spec.image;
    if (!image) return undefined;
    if (!isAbsolute(image) || normalize(image) !== image) {
      throw new DriverError('failed', `base image must be a plain absolute path, got ${image}`);
    }
    if (!existsSync(image)) throw new DriverError('not_found', `base image ${image} does not exist`);
    const size = (await imageInfo(image, { forceShare: true }))['virtual-size'];
    if (size > diskBytesOf(spec)) {
      throw new DriverError('failed', `base image ${image} (${size} bytes) is larger than diskGiB`);
    }
    return image;
  }
}

function isActive(state: DomainState): boolean {
  return state === 'running' || state === 'paused' || state === 'migrating';
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The factory the driver registry wires for kind `libvirt`. */
export function createLibvirtDriver(binding: HostBinding): LibvirtDriver {
  return new LibvirtDriver(binding);
}
