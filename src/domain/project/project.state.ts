import type { ProjectEvent } from './project.events.js';
import type { Quotas, VmFootprint } from './project.types.js';

export interface Admission extends VmFootprint {
  vmId: string;
  at: string;
}

export interface ProjectState {
  /** False for a project never created; `default` is usable anyway (unlimited until given quotas). */
  exists: boolean;
  name: string | null;
  quotas: Quotas;
  /** Recent admissions only: older ones are settled in the read model (see KEEP_ADMISSIONS_MS). */
  admissions: Admission[];
}

/** Admissions older than this (relative to the newest) are dropped from the state, so it stays small. */
export const KEEP_ADMISSIONS_MS = 10 * 60 * 1000;

export function initialProjectState(): ProjectState {
  return { exists: false, name: null, quotas: {}, admissions: [] };
}

export function evolveProject(state: ProjectState, event: ProjectEvent): ProjectState {
  switch (event.type) {
    case 'ProjectCreated':
    case 'ProjectQuotasChanged':
      return { ...state, exists: true, name: event.data.name, quotas: event.data.quotas };
    case 'ProjectVmAdmitted': {
      const { vmId, at, vcpus, memoryMiB, diskGiB } = event.data;
      const horizon = Date.parse(at) - KEEP_ADMISSIONS_MS;
      const kept = state.admissions.filter((a) => Date.parse(a.at) >= horizon);
      return { ...state, admissions: [...kept, { vmId, at, vcpus, memoryMiB, diskGiB }] };
    }
  }
}
