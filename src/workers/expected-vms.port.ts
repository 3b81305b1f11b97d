import type { VmSpecData, VmStateName } from '../domain/vm/vm.types.js';

/**
 * One VM the control plane expects on a host, as the log said at `revision`: what the
 * reconciler compares with what the driver really runs.
 */
export interface ExpectedVm {
  id: string;
  spec: VmSpecData;
  state: VmStateName;
  /** The operation in flight, if any (the VM's lock). */
  pendingOperationId: string | null;
  /** During a migration, the target host: its queue may hold the pending operation's job. */
  migrationTargetHostId: string | null;
  /** When the VM last changed (ISO 8601): only a pending operation quiet for long is looked at. */
  updatedAt: string;
  /** The VM stream's revision this view is at (decimal string); an observation holds for it only. */
  revision: string;
}

/**
 * The reconciler's view of the control plane's expectations. A worker never reads the event
 * store nor the read models directly; the composition root adapts whatever holds them.
 */
export interface ExpectedVms {
  /** Every VM placed on this host and not deleted. */
  onHost(hostId: string): Promise<ExpectedVm[]>;
  /** One VM, when it is placed on this host and not deleted. */
  one(hostId: string, vmId: string): Promise<ExpectedVm | undefined>;
  /**
   * True for a VM the control plane places on another host (or is migrating here):
   * two hosts of one driver on one machine see each other's domains, which are
   * not foreign to either.
   */
  placedElsewhere(hostId: string, vmId: string): Promise<boolean>;
  /**
   * The VM's spec when this host's copy of it is stale: the VM was recovered onto another host
   * after a fence (it may have been this host's) and no migration involves this host. Such a copy
   * must not run here: the split brain a fenced host coming back would otherwise cause.
   */
  staleCopy?(hostId: string, vmId: string): Promise<ExpectedVm['spec'] | undefined>;
}
