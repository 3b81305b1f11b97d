import type {
  CallContext,
  DomainInfo,
  DomainState,
  DomainStatus,
  DriverCapabilities,
  HostBinding,
  HypervisorDriver,
  MigrationEndpoint,
  SnapshotInfo,
  VmSpec,
} from '../hypervisor-driver.port.js';
import { DriverError } from '../hypervisor-driver.port.js';
import { assertSafeName, assertSpecSizes } from '../kit/safe-name.js';
import { VmLock } from '../kit/vm-lock.js';
import { toDriverError } from '../kit/driver-errors.js';
import { SoapClient } from './soap-client.js';
import { domainState, VM_PREFIX, VsphereInventory } from './inventory.js';
import { VsphereContext } from './vsphere-context.js';
import { defineVm, destroyVm, pauseVm, rebootVm, resumeVm, startVm, stopVm } from './vsphere-lifecycle.js';
import { deleteSnapshot, listSnapshots, revertSnapshot, takeSnapshot } from './vsphere-snapshots.js';
import { finishIncoming, migrate, prepareIncoming } from './vsphere-migration.js';
import { watchVms } from './vsphere-watch.js';
import { parseVsphereUri, readPassword, vsphereCapabilities, type VsphereHostConfig } from './vsphere-uri.js';

/** One task (a relocation, a snapshot with memory) may take this long when the job gives no deadline. */
const TASK_TIMEOUT_MS = 30 * 60_000;

/**
 * VMware vCenter/ESXi over the vim25 SOAP API: a thin dispatcher over lifecycle, snapshots,
 * migration and watch. A binding is one ESXi host of a datacenter: "this host's VMs" are ours
 * (`vl-<vmId>`) registered on it, so a VM relocated to another host is absent here.
 */
export class VsphereDriver implements HypervisorDriver {
  readonly kind = 'vsphere';
  readonly capabilities: DriverCapabilities;
  private readonly config: VsphereHostConfig;
  private readonly c: VsphereContext;
  private readonly lock = new VmLock();
  private readonly watches = new Set<() => void>();
  private readonly watchSoaps = new Set<SoapClient>();

  constructor(readonly binding: HostBinding) {
    this.config = parseVsphereUri(binding.uri);
    this.capabilities = vsphereCapabilities(binding.uri);
    const soap = this.newSoap();
    this.c = new VsphereContext(soap, new VsphereInventory(soap, this.config), this.config, TASK_TIMEOUT_MS);
  }

  async define(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    assertSpecSizes(spec);
    return this.run(spec, 'define', () => defineVm(this.c, spec, ctx));
  }
  async start(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    return this.run(spec, 'start', () => startVm(this.c, spec, ctx));
  }
  async stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }, ctx: CallContext = {}): Promise<void> {
    return this.run(spec, 'stop', () => stopVm(this.c, spec, opts, ctx));
  }
  async reboot(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.require('reboot', 'reboot');
    return this.run(spec, 'reboot', () => rebootVm(this.c, spec, ctx));
  }
  async pause(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.require('pause', 'pause');
    return this.run(spec, 'pause', () => pauseVm(this.c, spec, ctx));
  }
  async resume(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    this.require('pause', 'resume');
    return this.run(spec, 'resume', () => resumeVm(this.c, spec, ctx));
  }
  async destroy(spec: VmSpec, ctx: CallContext = {}): Promise<void> {
    return this.run(spec, 'destroy', () => destroyVm(this.c, spec, ctx));
  }
  async snapshot(spec: VmSpec, name: string, opts: { memory: boolean }, ctx: CallContext = {}): Promise<SnapshotInfo> {
    this.require(
      opts.memory ? 'memorySnapshots' : 'diskSnapshots',
      opts.memory ? 'memory snapshots' : 'disk snapshots',
    );
    return this.run(spec, 'snapshot', () => takeSnapshot(this.c, spec, name, opts, ctx));
  }
  async revert(spec: VmSpec, name: string, ctx: CallContext = {}): Promise<DomainState> {
    return this.run(spec, 'revert', () => revertSnapshot(this.c, spec, name, ctx));
  }
  async deleteSnapshot(spec: VmSpec, name: string, ctx: CallContext = {}): Promise<void> {
    return this.run(spec, 'delete snapshot', () => deleteSnapshot(this.c, spec, name, ctx));
  }
  async listSnapshots(spec: VmSpec, ctx: CallContext = {}): Promise<SnapshotInfo[]> {
    return this.run(spec, 'list snapshots', () => listSnapshots(this.c, spec, ctx));
  }
  async prepareIncoming(spec: VmSpec, opts: { live: boolean }, ctx: CallContext = {}): Promise<MigrationEndpoint> {
    this.requireMigration(opts.live);
    return this.run(spec, 'prepare incoming', () => prepareIncoming(this.c, spec, opts, ctx));
  }
  async migrate(
    spec: VmSpec,
    endpoint: MigrationEndpoint,
    opts: { live: boolean },
    ctx: CallContext = {},
  ): Promise<void> {
    this.requireMigration(opts.live);
    return this.run(spec, 'migrate', () => migrate(this.c, spec, endpoint, opts, ctx));
  }
  async finishIncoming(spec: VmSpec, opts: { live: boolean }, ctx: CallContext = {}): Promise<void> {
    return this.run(spec, 'finish incoming', () => finishIncoming(this.c, spec, opts, ctx));
  }
  /** prepareIncoming reserved nothing in vCenter, so there is nothing to remove. */
  async abortIncoming(spec: VmSpec): Promise<void> {
    assertSafeName('VM id', spec.id);
  }

  /** Not behind the VM's lock: reconciliation must see a VM while a long task (a vMotion) runs on it. */
  async status(spec: VmSpec): Promise<DomainStatus> {
    assertSafeName('VM id', spec.id);
    try {
      const v = await this.c.here(spec.id, {});
      if (!v) return { state: 'absent' };
      return { state: domainState(v), detail: `${v.power} on ${this.config.host}` };
    } catch (err) {
      throw toDriverError(err, `status ${spec.id}`);
    }
  }

  /** Every VM registered on this host; ours (`vl-<id>`) are managed, anyone else's is reported only. */
  async listDomains(): Promise<DomainInfo[]> {
    const p = await this.c.placement({}).catch((err: unknown) => {
      throw toDriverError(err, 'list domains');
    });
    const all = await this.c.inventory.allVms().catch((err: unknown) => {
      throw toDriverError(err, 'list domains');
    });
    return all
      .filter((v) => v.host === p.host.value)
      .map((v) => {
        const ours = v.name.startsWith(VM_PREFIX);
        return {
          vmId: ours ? v.name.slice(VM_PREFIX.length) : v.name,
          managed: ours,
          state: domainState(v),
          detail: v.power,
        };
      });
  }

  /** Its own session: a WaitForUpdatesEx blocked for seconds must not hold up the driver's calls. */
  watch(onChange: (vmId: string) => void, onError: (message: string) => void = () => undefined): () => void {
    const soap = this.newSoap();
    this.watchSoaps.add(soap);
    const stop = watchVms(soap, async () => (await this.c.placement({})).vmFolder, onChange, onError);
    const close = (): void => {
      stop();
      this.watches.delete(close);
      this.watchSoaps.delete(soap);
      void soap.logout();
    };
    this.watches.add(close);
    return close;
  }

  async close(): Promise<void> {
    for (const close of [...this.watches]) close();
    await this.c.soap.logout();
  }

  private newSoap(): SoapClient {
    return new SoapClient({
      sdkUrl: this.config.sdkUrl,
      user: this.config.user,
      password: () => readPassword(this.config),
      insecure: this.config.insecure,
      callTimeoutMs: this.config.callTimeoutMs,
    });
  }

  private async run<T>(spec: VmSpec, verb: string, fn: () => Promise<T>): Promise<T> {
    assertSafeName('VM id', spec.id);
    return this.lock.run(spec.id, verb, fn);
  }

  private require(cap: keyof DriverCapabilities, what: string): void {
    if (!this.capabilities[cap]) {
      throw new DriverError('unsupported', `host ${this.binding.id} (${this.binding.uri}) does not declare ${what}`);
    }
  }

  private requireMigration(live: boolean): void {
    this.require(live ? 'liveMigration' : 'coldMigration', live ? 'live migration' : 'cold migration');
  }
}

export function createVsphereDriver(host: HostBinding): HypervisorDriver {
  return new VsphereDriver(host);
}
