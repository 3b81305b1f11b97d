import { vmProject } from '../../domain/vm/vm.state.js';
import { mayUse, seesAll } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import type { OperationView } from '../../projections/read-model.types.js';
import type { ReadModels } from '../../projections/read-models.js';

/**
 * An operation belongs to its VM's project; one without a VM (a read-model rebuild)
 * to no project, so only all-projects callers see it. Operations projected before
 * projects carry no project: their VM's is read.
 */
export async function operationVisible(p: Principal, op: OperationView, readModels: ReadModels): Promise<boolean> {
  if (seesAll(p)) return true;
  if (!op.vmId) return false;
  if (op.project !== undefined) return mayUse(p, op.project);
  const vm = await readModels.getVm(op.vmId);
  return vm !== undefined && mayUse(p, vmProject(vm.state));
}
