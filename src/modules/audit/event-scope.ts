import { consoleVmIdOf, projectNameOf, vmIdOf } from '../../domain/streams.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import type { RecordedEvent } from '../../eventstore/event-store.port.js';
import { mayUse, mustSeeAllProjects, seesAll } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import type { ReadModels } from '../../projections/read-models.js';

/**
 * Which events of the global log a caller sees: all of them for an all-projects
 * caller; otherwise only its projects' VM and project streams (hosts, seals and
 * rebuilds are infrastructure: they name other tenants' VMs). A VM's project is
 * read once per feed and remembered (it never changes); a VM the read model does
 * not show yet is looked up again on its next event.
 */
export function eventScope(p: Principal, readModels: ReadModels): ((e: RecordedEvent) => Promise<boolean>) | undefined {
  const visible = streamScope(p, readModels);
  return visible && ((e) => visible(e.streamId));
}

/** The same rule by stream id: for routes that name a stream (verify) or find its event (proof, export). */
export function streamScope(
  p: Principal,
  readModels: ReadModels,
): ((streamId: string) => Promise<boolean>) | undefined {
  if (seesAll(p)) return undefined;
  const projects = new Map<string, string>();
  return async (streamId) => {
    const project = projectNameOf(streamId);
    if (project !== undefined) return mayUse(p, project);
    // A VM's console sessions belong to the VM's project.
    const vmId = vmIdOf(streamId) ?? consoleVmIdOf(streamId);
    if (!vmId) return false;
    let known = projects.get(vmId);
    if (known === undefined) {
      const vm = await readModels.getVm(vmId);
      if (!vm) return false;
      known = vmProject(vm.state);
      projects.set(vmId, known);
    }
    return mayUse(p, known);
  };
}

/**
 * Routes whose answer spans the whole log or every read model (a replay check's differences carry
 * records of every project) are for callers of every project only: a scoped auditor gets 403.
 */
export function mustSeeWholeLog(p: Principal, what: string): void {
  mustSeeAllProjects(p, what, 'it spans every project', 'an auditor or admin of all projects');
}
