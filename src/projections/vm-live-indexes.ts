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
}

/** Where a VM counts while it is not deleted: its project's and its host's live indexes. */
function liveKeys(keys: ReadModelKeys, vm: VmState): string[] {
  if (!vm.exists || !vm.id || vm.state === 'deleted') return [];
  const out = [keys.liveVmsOfProject(vmProject(vm))];
  if (vm.hostId) out.push(keys.liveVmsOnHost(vm.hostId));
  return out;
}

/**
 * Keeps the live indexes of one VM in step with its state: a VM enters its project's
 * and its host's index when created or placed, moves with a migration, and leaves both
 * when deleted. So the reconciler's sweep and a quota admission read what exists now,
 * not every VM ever created (thousands of deleted VMs on a busy host).
 */
export async function updateLiveIndexes(
  keys: ReadModelKeys,
  vmId: string,
  score: number,
  before: VmState,
  after: VmState,
  created: boolean,
  tx: ProjectionTx,
): Promise<void> {
  if (created) {
    const format = await tx.get<LiveIndexFormat>(keys.liveIndexFormat());
    tx.set(keys.liveIndexFormat(), { created: (format?.created ?? 0) + 1 } satisfies LiveIndexFormat);
  }
  const was = liveKeys(keys, before);
  const now = liveKeys(keys, after);
  for (const k of was) if (!now.includes(k)) tx.unindex(k, vmId);
  for (const k of now) if (!was.includes(k)) tx.index(k, score, vmId);
}
