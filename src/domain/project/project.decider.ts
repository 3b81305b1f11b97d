import type { Decider } from '../decider.js';
import { DomainError } from '../domain-error.js';
import type { ProjectCommand } from './project.commands.js';
import type { ProjectEvent } from './project.events.js';
import { admitVolume, releaseVolume, volumesDiskGiB, type VolumeUsageInput } from './project.volumes.js';
import { evolveProject, initialProjectState, type ProjectState } from './project.state.js';
import {
  addFootprint,
  DEFAULT_PROJECT,
  emptyUsage,
  hasLimits,
  QUOTA_NAMES,
  type Quotas,
  type Usage,
} from './project.types.js';

type Cmd<T extends ProjectCommand['type']> = Extract<ProjectCommand, { type: T }>;

function usable(state: ProjectState, name: string): boolean {
  return state.exists || name === DEFAULT_PROJECT;
}

/**
 * Live VMs the read model knows, plus admissions it does not show yet that are still in flight;
 * diskGiB adds the project's volumes (see project.volumes.ts).
 */
export function projectUsage(
  state: ProjectState,
  cmd: Pick<Cmd<'AdmitVm'>, 'settled' | 'at' | 'inFlightMs'> & VolumeUsageInput,
): Usage {
  let usage = emptyUsage();
  usage.diskGiB = volumesDiskGiB(state, cmd);
  for (const f of Object.values(cmd.settled)) if (f) usage = addFootprint(usage, f);
  const horizon = Date.parse(cmd.at) - cmd.inFlightMs;
  for (const a of state.admissions) {
    if (a.vmId in cmd.settled || Date.parse(a.at) < horizon) continue;
    usage = addFootprint(usage, a);
  }
  return usage;
}

function admit(cmd: Cmd<'AdmitVm'>, state: ProjectState): ProjectEvent[] {
  if (!usable(state, cmd.project)) throw new DomainError('not_found', `project ${cmd.project} not found`);
  if (!hasLimits(state.quotas)) return [];
  if (state.admissions.some((a) => a.vmId === cmd.vmId)) return [];
  const used = projectUsage(state, cmd);
  const after = addFootprint(used, cmd.footprint);
  for (const quota of QUOTA_NAMES) {
    const limit = state.quotas[quota];
    if (limit === undefined || after[quota] <= limit) continue;
    const requested = after[quota] - used[quota];
    throw new DomainError(
      'quota',
      `quota exceeded: project ${cmd.project} uses ${used[quota]} of its ${limit} ${quota}; this VM needs ${requested} more`,
      { project: cmd.project, quota, used: used[quota], requested, limit },
    );
  }
  const { vcpus, memoryMiB, diskGiB } = cmd.footprint;
  return [{ type: 'ProjectVmAdmitted', data: { vmId: cmd.vmId, at: cmd.at, vcpus, memoryMiB, diskGiB } }];
}

function changed(current: Quotas, patch: Cmd<'ChangeQuotas'>['quotas']): Quotas {
  const next: Quotas = { ...current };
  for (const quota of QUOTA_NAMES) {
    const v = patch[quota];
    if (v === undefined) continue;
    if (v === null) delete next[quota];
    else next[quota] = v;
  }
  return next;
}

function sameQuotas(a: Quotas, b: Quotas): boolean {
  return QUOTA_NAMES.every((n) => a[n] === b[n]);
}

export function decideProject(cmd: ProjectCommand, state: ProjectState): ProjectEvent[] {
  switch (cmd.type) {
    case 'CreateProject':
      if (usable(state, cmd.name)) throw new DomainError('conflict', `project ${cmd.name} already exists`);
      return [{ type: 'ProjectCreated', data: { name: cmd.name, quotas: cmd.quotas } }];
    case 'ChangeQuotas': {
      if (!usable(state, cmd.name)) throw new DomainError('not_found', `project ${cmd.name} not found`);
      const quotas = changed(state.quotas, cmd.quotas);
      // `default` exists implicitly: its first change records it, even when it changes nothing.
      if (state.exists && sameQuotas(quotas, state.quotas)) return [];
      return [{ type: 'ProjectQuotasChanged', data: { name: cmd.name, quotas } }];
    }
    case 'AdmitVm':
      return admit(cmd, state);
    case 'AdmitVolume':
      if (!usable(state, cmd.project)) throw new DomainError('not_found', `project ${cmd.project} not found`);
      return admitVolume(cmd, state, projectUsage(state, cmd).diskGiB);
    case 'ReleaseVolumeAdmission':
      return releaseVolume(cmd, state);
  }
}

export const projectDecider: Decider<ProjectCommand, ProjectEvent, ProjectState> = {
  initialState: initialProjectState,
  decide: decideProject,
  evolve: evolveProject,
};
