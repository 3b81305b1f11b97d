import type { VmState } from '../domain/vm/vm.state.js';
import { vmProject } from '../domain/vm/vm.state.js';
import type { ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';

/**
 * How many VMs the projection has indexed since its read model was empty. The live
 * indexes (below) are only complete when every VM in the `vms` index was created under
 * this code: a read model built before them (an upgrade, not yet rebuilt) has VMs that
 * were never put in. Readers compare this count with the `vms` index's size and fall
 * back to scanning every VM when they differ (see ReadModels.liveIndexesComplete).
 */
export interface LiveIndexFormat {
  created: number;
  /**
   * The same count for the fleet-wide live index (`liveVms`), which came later: a read model
   * built with the per-project and per-host indexes but before this one has `created` right and
   * `all` missing or short, and lists scan every VM until it is rebuilt (ReadModels.findVms).
   */
  all?: number;
}

/** Whether a VM counts in the live indexes: created and not deleted. */
function isLive(vm: VmState): boolean {
  return vm.exists && vm.id !== null && vm.id !== '' && vm.state !== 'deleted';
}

/** Where a VM counts while it is not deleted: the fleet's, its project's and its host's live indexes. */
function liveKeys(keys: ReadModelKeys, vm: VmState): string[] {
  if (!isLive(vm)) return [];
  const out = [keys.liveVms(), keys.liveVmsOfProject(vmProject(vm))];
  if (vm.hostId) out.push(keys.liveVmsOnHost(vm.hostId));
  return out;
}

/**
 * One more VM created under the live indexes (see LiveIndexFormat). Synchronous on a tx that
 * reads without a promise (a replay's fold); a promise of the write on a live one.
 */
export function countLiveIndexed(keys: ReadModelKeys, tx: ProjectionTx): void | Promise<void> {
  const key = keys.liveIndexFormat();
  const count = (format: LiveIndexFormat | undefined): void =>
    tx.set(key, { created: (format?.created ?? 0) + 1, all: (format?.all ?? 0) + 1 } satisfies LiveIndexFormat);
  if (tx.peek) return count(tx.peek<LiveIndexFormat>(key));
  return tx.get<LiveIndexFormat>(key).then(count);
}

/**
 * Keeps the live indexes of one VM in step with its state: a VM enters its project's
 * and its host's index when created or placed, moves with a migration, and leaves both
 * when deleted. So the reconciler's sweep and a quota admission read what exists now,
 * not every VM ever created (thousands of deleted VMs on a busy host).
 */
export function updateLiveIndexes(
  keys: ReadModelKeys,
  vmId: string,
  score: number,
  before: VmState,
  after: VmState,
  tx: ProjectionTx,
): void {
  const wasLive = isLive(before);
  const nowLive = isLive(after);
  // Most events move a VM nowhere: no key is built for them (a replay's hot path).
  if (wasLive === nowLive && (!nowLive || (before.hostId === after.hostId && vmProject(before) === vmProject(after))))
    return;
  const was = liveKeys(keys, before);
  const now = liveKeys(keys, after);
  for (const k of was) if (!now.includes(k)) tx.unindex(k, vmId);
  for (const k of now) if (!was.includes(k)) tx.index(k, score, vmId);
}
