import { DriverError, type CallContext } from '../hypervisor-driver.port.js';
import type { XmlNode } from './xml.js';
import type { MoRef, SoapClient } from './soap-client.js';
import { runTask, TaskFailed } from './tasks.js';
import { domainState, vmName, type Placement, type VmView, type VsphereInventory } from './inventory.js';
import type { VsphereHostConfig } from './vsphere-uri.js';

/** What each concern (lifecycle, snapshots, migration) needs: the session, the inventory, the host. */
export class VsphereContext {
  constructor(
    readonly soap: SoapClient,
    readonly inventory: VsphereInventory,
    readonly config: VsphereHostConfig,
    /** Deadline of one task when the caller's signal gives none. */
    readonly taskTimeoutMs: number,
  ) {}

  placement(ctx: CallContext): Promise<Placement> {
    return this.inventory.placement(ctx.signal);
  }

  /** Our VM when it is registered on this binding's host; undefined when absent or elsewhere. */
  async here(vmId: string, ctx: CallContext): Promise<VmView | undefined> {
    const [v, p] = await Promise.all([this.inventory.findVm(vmId, ctx.signal), this.placement(ctx)]);
    return v && v.host === p.host.value ? v : undefined;
  }

  /** As here(), but a missing VM is not_found (naming where it is when it runs on another host). */
  async require(vmId: string, ctx: CallContext): Promise<VmView> {
    const [v, p] = await Promise.all([this.inventory.findVm(vmId, ctx.signal), this.placement(ctx)]);
    if (!v) throw new DriverError('not_found', `no VM ${vmName(vmId)} in datacenter ${this.config.datacenter}`);
    if (v.host !== p.host.value) {
      throw new DriverError('not_found', `VM ${vmName(vmId)} is on host ${v.host ?? '?'}, not on ${this.config.host}`);
    }
    return v;
  }

  task(method: string, target: MoRef, body: string, what: string, ctx: CallContext): Promise<XmlNode | undefined> {
    return runTask(this.soap, method, target, body, what, this.taskTimeoutMs, ctx);
  }

  /**
   * A power task that lost a race (a redelivered job, another worker, someone in vCenter) fails
   * with InvalidPowerState; when the VM is where the task wanted it, that is a success.
   */
  async powerTask(
    method: string,
    vmId: string,
    v: VmView,
    want: 'running' | 'stopped' | 'paused',
    what: string,
    ctx: CallContext,
  ): Promise<void> {
    try {
      await this.task(method, v.ref, '', what, ctx);
    } catch (err) {
      if (!(err instanceof TaskFailed) || err.faultType !== 'InvalidPowerState') throw err;
      const now = await this.inventory.findVm(vmId, ctx.signal);
      if (!now || domainState(now) !== want) throw err;
    }
  }
}
