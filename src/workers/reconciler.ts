import type { Logger } from 'pino';
import type { DomainState, HypervisorDriver } from '../drivers/hypervisor-driver.port.js';
import type { ObservedState } from '../domain/vm/vm.commands.js';
import type { ReadModels } from '../projections/read-models.js';
import type { VmRecord } from '../projections/read-model.types.js';
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

  constructor(
    private readonly hostId: string,
    private readonly driver: HypervisorDriver,
    private readonly readModels: ReadModels,
    private readonly hub: QueueHub,
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
    const rec = await this.readModels.getVm(vmId);
    if (!rec || rec.state.hostId !== this.hostId || rec.state.state === 'deleted') return false;
    return this.check(rec, now);
  }

  private async vmsOnHost(): Promise<VmRecord[]> {
    const out: VmRecord[] = [];
    let cursor = 0;
    for (;;) {
      const page = await this.readModels.listVms(cursor, 500);
      out.push(...page.items.filter((r) => r.state.hostId === this.hostId && r.state.state !== 'deleted'));
      if (!page.next) return out;
      cursor = Number(page.next);
    }
  }

  /**
   * Compares one VM with the driver; true when a disagreement was reported.
   * `suspects` collects, during a sweep, the operations found without a job.
   */
  private async check(rec: VmRecord, now: number, report?: SweepReport, suspects?: Set<string>): Promise<boolean> {
    const s = rec.state;
    if (!s.id || !s.spec || s.state === 'requested' || s.state === 'failed') return false;
    const pending = s.pending;
    // Work in flight moves the state on its own; only a pending operation that went quiet is looked at.
    if (pending && now - new Date(rec.updatedAt).getTime() < this.stuckAfterMs) return false;
    if (!pending && (s.state === 'provisioning' || s.state === 'migrating' || s.state === 'deleting')) return false;
    if (report) report.checked++;
    const status = await this.driver.status({ id: s.id, ...s.spec });
    const seen = observed(status.state);
    if (!seen) return false;
    let jobActive = false;
    if (pending) {
      const hosts = [this.hostId, s.migration?.targetHostId].filter((h): h is string => !!h);
      for (const h of hosts) jobActive ||= await this.hub.hasLiveJob(h, pending.id);
    } else {
      const agrees =
        seen === s.state ||
        (seen === 'crashed' && s.state === 'stopped') ||
        (seen === 'absent' && s.state === 'stopped');
      if (agrees) return false;
    }
    if (pending && jobActive) return false;
    // A job missing once may be on its way back (the saga re-enqueues after Redis came back empty):
    // an operation is abandoned only when two sweeps, an interval apart, found no job for it.
    if (pending && !this.suspects.has(pending.id)) {
      suspects?.add(pending.id);
      return false;
    }
    await this.hub.postResult(`reconcile.${s.id}.${rec.revision}.${seen}`, {
      kind: 'observed',
      vmId: s.id,
      hostId: this.hostId,
      observed: seen,
      reason: status.detail ?? `the driver reports ${status.state}`,
      jobActive,
      principal: `system:reconciler@${this.hostId}`,
      revision: rec.revision,
    });
    return true;
  }

  async sweep(now = Date.now()): Promise<SweepReport> {
    const report: SweepReport = { checked: 0, reported: 0, unmanaged: [] };
    const records = await this.vmsOnHost();
    const suspects = new Set<string>();
    for (const rec of records) {
      if (await this.check(rec, now, report, suspects)) report.reported++;
    }
    this.suspects = suspects;
    const known = new Set(records.map((r) => r.state.id));
    for (const d of await this.driver.listDomains()) {
      if (!d.managed || !known.has(d.vmId)) report.unmanaged.push(d.vmId);
    }
    if (report.unmanaged.length) {
      this.log.warn(
        { host: this.hostId, domains: report.unmanaged },
        'domains not managed by virtledger found (left alone)',
      );
    }
    return report;
  }
}
