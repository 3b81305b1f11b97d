import { PROJECT_PATTERN, PROJECT_RULE } from '../../domain/patterns.js';
import { mayUse } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import { badField } from '../../http/as-of.query.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import type { VmRecord } from '../../projections/read-model.types.js';

/**
 * Which VMs a caller sees in GET /v1/vms: its projects' only (another project's VMs
 * are simply absent, even when named with ?project=). Deleted ones, a purged failed
 * create included, are hidden by the list filter unless `includeDeleted=true`.
 */
export function vmListFilter(p: Principal, q: { project?: string | undefined }): (r: VmRecord) => boolean {
  if (q.project !== undefined && !PROJECT_PATTERN.test(q.project)) throw badField('project', PROJECT_RULE);
  return (r) => {
    const project = vmProject(r.state);
    if (!mayUse(p, project)) return false;
    return q.project === undefined || project === q.project;
  };
}
