import { projectDecider } from '../domain/project/project.decider.js';
import { DEFAULT_PROJECT, hasLimits, type VmFootprint } from '../domain/project/project.types.js';
import { DomainError } from '../domain/domain-error.js';
import { projectStream } from '../domain/streams.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { VmRecord } from '../projections/read-model.types.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';

/** What admission reads of the read models: every VM ever created in a project. */
export interface ProjectVms {
  vmsOfProject(project: string): Promise<VmRecord[]>;
}

/**
 * How long an admission counts while the read model does not show its VM yet. A
 * create waits up to 3 s for its VM to be projected, so this only matters when
 * projections lag by more than a minute (then a concurrent create could slip past).
 */
export const IN_FLIGHT_MS = 60_000;

/** A VM counts against its project's quotas unless deleted or failed before it was ever placed. */
export function countsAgainstQuota(vm: VmState): boolean {
  if (!vm.exists || vm.state === 'deleted') return false;
  return !(vm.state === 'failed' && vm.hostId === null);
}

/**
 * Reserves room for a VM in its project before the VM's first event: appended to the
 * project's stream with its expected revision, so of two concurrent creates (in this
 * process or any other API process on the same store) one re-decides against the
 * other's admission and cannot overshoot. An unlimited project records nothing.
 */
export async function admitVm(
  aggregates: AggregateLoader,
  vms: ProjectVms,
  project: string,
  vmId: string,
  footprint: VmFootprint,
  meta: CommandMeta,
  now: () => Date,
): Promise<void> {
  const stream = projectStream(project);
  const { state } = await aggregates.load(projectDecider, stream);
  if (!state.exists && project !== DEFAULT_PROJECT) throw new DomainError('not_found', `project ${project} not found`);
  if (!hasLimits(state.quotas)) return;
  const settled: Record<string, VmFootprint | null> = {};
  for (const r of await vms.vmsOfProject(project)) {
    if (!r.state.id) continue;
    const spec = r.state.spec;
    settled[r.state.id] = countsAgainstQuota(r.state) && spec ? spec : null;
  }
  await handleCommand(
    aggregates,
    projectDecider,
    stream,
    { type: 'AdmitVm', project, vmId, footprint, settled, at: now().toISOString(), inFlightMs: IN_FLIGHT_MS },
    meta,
    { now },
  );
}
