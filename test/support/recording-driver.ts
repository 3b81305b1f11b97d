import type {
  DomainInfo,
  DomainState,
  DomainStatus,
  DriverCapabilities,
  HypervisorDriver,
  MigrationEndpoint,
  SnapshotInfo,
  VmSpec,
} from '../../src/drivers/hypervisor-driver.port.js';

/** One call a test double received: the verb and every argument but the call context. */
export interface DriverCall {
  verb: string;
  args: unknown[];
}

const ALL: DriverCapabilities = {
  liveMigration: true,
  coldMigration: true,
  memorySnapshots: true,
  diskSnapshots: true,
  pause: true,
  reboot: true,
  hardwareAcceleration: false,
};

/**
 * A HypervisorDriver that runs nothing: it records each call, answers what the test set up
 * (`revertTo`, `endpoint`, `statuses`, `domains`), and otherwise succeeds.
 */
export class RecordingDriver implements HypervisorDriver {
  readonly kind = 'recording';
  readonly capabilities = ALL;
  readonly calls: DriverCall[] = [];
  /** What revert() reports the domain became. */
  revertTo: DomainState = 'running';
  /** What prepareIncoming() answers. */
  endpoint: MigrationEndpoint = { host: '127.0.0.1', port: 49152 };
  /** status() per VM id; a VM not listed is absent. */
  statuses = new Map<string, DomainStatus>();
  /** listDomains(): by default, one managed domain per entry of `statuses`. */
  domains: DomainInfo[] | undefined;

  private record(verb: string, ...args: unknown[]): void {
    this.calls.push({ verb, args });
  }

  async define(spec: VmSpec): Promise<void> {
    this.record('define', spec);
  }
  async start(spec: VmSpec): Promise<void> {
    this.record('start', spec);
  }
  async stop(spec: VmSpec, opts: { force: boolean; timeoutMs?: number }): Promise<void> {
    this.record('stop', spec, opts);
  }
  async reboot(spec: VmSpec): Promise<void> {
    this.record('reboot', spec);
  }
  async pause(spec: VmSpec): Promise<void> {
    this.record('pause', spec);
  }
  async resume(spec: VmSpec): Promise<void> {
    this.record('resume', spec);
  }
  async destroy(spec: VmSpec): Promise<void> {
    this.record('destroy', spec);
  }
  async snapshot(spec: VmSpec, name: string, opts: { memory: boolean }): Promise<SnapshotInfo> {
    this.record('snapshot', spec, name, opts);
    return { name, memory: opts.memory };
  }
  async revert(spec: VmSpec, name: string): Promise<DomainState> {
    this.record('revert', spec, name);
    return this.revertTo;
  }
  async deleteSnapshot(spec: VmSpec, name: string): Promise<void> {
    this.record('deleteSnapshot', spec, name);
  }
  async listSnapshots(spec: VmSpec): Promise<SnapshotInfo[]> {
    this.record('listSnapshots', spec);
    return [];
  }
  async prepareIncoming(spec: VmSpec, opts: { live: boolean }): Promise<MigrationEndpoint> {
    this.record('prepareIncoming', spec, opts);
    return this.endpoint;
  }
  async migrate(spec: VmSpec, endpoint: MigrationEndpoint, opts: { live: boolean }): Promise<void> {
    this.record('migrate', spec, endpoint, opts);
  }
  async finishIncoming(spec: VmSpec, opts: { live: boolean }): Promise<void> {
    this.record('finishIncoming', spec, opts);
  }
  async abortIncoming(spec: VmSpec): Promise<void> {
    this.record('abortIncoming', spec);
  }
  async status(spec: VmSpec): Promise<DomainStatus> {
    this.record('status', spec);
    return this.statuses.get(spec.id) ?? { state: 'absent' };
  }
  async listDomains(): Promise<DomainInfo[]> {
    return this.domains ?? [...this.statuses].map(([vmId, s]) => ({ ...s, vmId, managed: true }));
  }
  async close(): Promise<void> {}
}
