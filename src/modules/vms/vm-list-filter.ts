import { PROJECT_PATTERN, PROJECT_RULE } from '../../domain/patterns.js';
import { mayUse } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import { badField } from '../../http/as-of.query.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import type { VmRecord } from '../../projections/read-model.types.js';

/**
 * Which VMs GET /v1/vms lists: the caller's projects only (another project's VMs
 * are simply absent, even when named with ?project=), and no purged VM (deleted
 * without ever reaching a host: a failed create) unless `includePurged=true`.
 * Other deleted VMs stay listed, as they always were (the v1 list is not narrowed).
 */
export function vmListFilter(
  p: Principal,
  q: { project?: string | undefined; includePurged?: string | undefined },
): (r: VmRecord) => boolean {
  if (q.project !== undefined && !PROJECT_PATTERN.test(q.project)) throw badField('project', PROJECT_RULE);
  if (q.includePurged !== undefined && q.includePurged !== 'true' && q.includePurged !== 'false')
    throw badField('includePurged', 'must be true or false');
  const withPurged = q.includePurged === 'true';
  return (r) => {
    const project = vmProject(r.state);
    if (!mayUse(p, project)) return false;
    if (q.project !== undefined && project !== q.project) return false;
    return withPurged || !(r.state.state === 'deleted' && r.state.hostId === null);
  };
}
