import type { Logger } from 'pino';
import type { DomainState, HypervisorDriver } from '../drivers/hypervisor-driver.port.js';
import type { ObservedState } from '../domain/vm/vm.commands.js';
import { driverSpec } from './driver-spec.js';
import type { ExpectedVm, ExpectedVms } from './expected-vms.port.js';
import type { QueueHub } from './queue-hub.js';

function observed(s: DomainState): ObservedState | undefined {
  switch (s) {
    case 'running':
    case 'paused':
    case 'stopped':
    case 'crashed':
    case 'absent':
      return s;
    default:
      return undefined; // migrating / unknown: nothing to conclude yet
  }
}

export interface SweepReport {
  checked: number;
  reported: number;
  unmanaged: string[];
  /** Copies of VMs recovered onto another host (after a fence) that ran here, force-stopped. */
  staleStopped: string[];
}

/**
 * Compares what the driver really runs on one host with the read model and
 * reports disagreements as observations; the VM decider turns them into
 * events (VmCrashed, VmStateReconciled, or closes an operation no job will
 * ever finish). Domains the service did not create are logged, never touched.
 */
export class Reconciler {
  /** Operations seen without a job on the previous sweep. */
  private suspects = new Set<string>();
  /** Unmanaged domains already logged: each is logged once, not on every sweep. */
  private logged = new Set<string>();
  /** Domains the previous sweep found unmanaged. */
  private unmanagedBefore = new Set<string>();

  constructor(
    private readonly hostId: string,
    private readonly driver: HypervisorDriver,
    private readonly expected: ExpectedVms,
    private readonly hub: Pick<QueueHub, 'hasLiveJob' | 'postResult'>,
    private readonly log: Logger,
    /** A pending operation untouched this long, with no job on any queue, is stuck. */
    private readonly stuckAfterMs = 60000,
  ) {
    // Drivers with a push feed (libvirt's `virsh event`) get a VM looked at as soon as it
    // changes; the feed ends with the driver's close(), which the host worker calls on stop.
    this.driver.watch?.(
      (vmId) =>
        void this.reconcileVm(vmId).catch((err: unknown) => this.log.warn({ err, vmId }, 'reconcile on event failed')),
      (message) => this.log.warn({ host: this.hostId }, message),
    );
  }

  /** One VM, now (a driver event said it changed); the same checks as a sweep. */
  async reconcileVm(vmId: string, now = Date.now()): Promise<boolean> {
    const vm = await this.expected.one(this.hostId, vmId);
    return vm ? this.check(vm, now) : false;
  }

  /**
   * Compares one VM with the driver; true when a disagreement was reported.
   * `suspects` collects, during a sweep, the operations found without a job.
   */
  private async check(vm: ExpectedVm, now: number, report?: SweepReport, suspects?: Set<string>): Promise<boolean> {
    if (vm.state === 'requested' || vm.state === 'failed') return false;
    const pending = vm.pendingOperationId;
    // Work in flight moves the state on its own; only a pending operation that went quiet is looked at.
    if (pending && now - new Date(vm.updatedAt).getTime() < this.stuckAfterMs) return false;
    if (!pending && (vm.state === 'provisioning' || vm.state === 'migrating' || vm.state === 'deleting')) return false;
    if (report) report.checked++;
    const status = await this.driver.status(driverSpec(vm.id, vm.spec));
    const seen = observed(status.state);
    if (!seen) return false;
    let jobActive = false;
    if (pending) {
      const hosts = [this.hostId, vm.migrationTargetHostId].filter((h): h is string => !!h);
      for (const h of hosts) jobActive ||= await this.hub.hasLiveJob(h, pending);
    } else {
      const agrees =
        seen === vm.state ||
        (seen === 'crashed' && vm.state === 'stopped') ||
        (seen === 'absent' && vm.state === 'stopped');
      if (agrees) return false;
    }
    if (pending && jobActive) return false;
    // A job missing once may be on its way back (the saga re-enqueues after Redis came back empty):
    // an operation is abandoned only when two sweeps, an interval apart, found no job for it.
    if (pending && !this.suspects.has(pending)) {
      suspects?.add(pending);
      return false;
    }
    await this.hub.postResult(`reconcile.${vm.id}.${vm.revision}.${seen}`, {
      kind: 'observed',
      vmId: vm.id,
      hostId: this.hostId,
      observed: seen,
      reason: status.detail ?? `the driver reports ${status.state}`,
      jobActive,
      principal: `system:reconciler@${this.hostId}`,
      revision: vm.revision,
    });
    return true;
  }

  /**
   * A host fenced and back again may still run a VM that was recovered elsewhere meanwhile: that
   * copy is force-stopped (its files stay: on shared storage the disk is the new host's).
   */
  private async stopStaleCopy(vmId: string, state: string, report: SweepReport): Promise<void> {
    if (state !== 'running' && state !== 'paused' && state !== 'unknown') return;
    const spec = await this.expected.staleCopy?.(this.hostId, vmId);
    if (!spec) return;
    await this.driver.stop(driverSpec(vmId, spec), { force: true });
    report.staleStopped.push(vmId);
    this.log.warn(
      { host: this.hostId, vm: vmId, was: state },
      'stale copy of a VM recovered on another host after a fence: force-stopped here',
    );
  }

  async sweep(now = Date.now()): Promise<SweepReport> {
    const report: SweepReport = { checked: 0, reported: 0, unmanaged: [], staleStopped: [] };
    const vms = await this.expected.onHost(this.hostId);
    const suspects = new Set<string>();
    for (const vm of vms) {
      if (await this.check(vm, now, report, suspects)) report.reported++;
    }
    this.suspects = suspects;
    const known = new Set(vms.map((vm) => vm.id));
    for (const d of await this.driver.listDomains()) {
      if (d.managed && known.has(d.vmId)) continue;
      if (d.managed && (await this.expected.placedElsewhere(this.hostId, d.vmId))) {
        await this.stopStaleCopy(d.vmId, d.state, report);
        continue;
      }
      report.unmanaged.push(d.vmId);
    }
    // Logged when two sweeps in a row, an interval apart, found it: a VM defined between this
    // sweep's read of the read model and its listing (or whose placement the read model has not
    // applied yet, as under load) is ours a moment later, and no operator should be told otherwise.
    const twice = report.unmanaged.filter((id) => this.unmanagedBefore.has(id));
    const fresh = twice.filter((id) => !this.logged.has(id));
    // Forget the ones gone, so a domain that comes back is logged again.
    this.logged = new Set(twice);
    this.unmanagedBefore = new Set(report.unmanaged);
    if (fresh.length) {
      this.log.warn({ host: this.hostId, domains: fresh }, 'domains not managed by virtledger found (left alone)');
    }
    return report;
  }
}
