import { vmProject } from '../../domain/vm/vm.state.js';
import { mayUse, seesAll } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import type { OperationView } from '../../projections/read-model.types.js';
import type { ReadModels } from '../../projections/read-models.js';

/**
 * An operation belongs to its VM's project. One without a VM (a read-model rebuild, a host
 * evacuation) is infrastructure, like hosts: every reader sees it, as before projects (it
 * names no tenant's data beyond what host views show). Operations projected before
 * projects carry no project: their VM's is read.
 */
export async function operationVisible(p: Principal, op: OperationView, readModels: ReadModels): Promise<boolean> {
  if (seesAll(p)) return true;
  if (!op.vmId) return true;
  if (op.project !== undefined) return mayUse(p, op.project);
  const vm = await readModels.getVm(op.vmId);
  return vm !== undefined && mayUse(p, vmProject(vm.state));
}
