import type { ProjectEvent } from './project.events.js';
import type { Quotas, VmFootprint } from './project.types.js';

export interface Admission extends VmFootprint {
  vmId: string;
  at: string;
}

export interface VolumeAdmission {
  volumeId: string;
  /** The volume's whole size once admitted (a grow's new size). */
  sizeGiB: number;
  at: string;
}

export interface ProjectState {
  /** False for a project never created; `default` is usable anyway (unlimited until given quotas). */
  exists: boolean;
  name: string | null;
  quotas: Quotas;
  /** Recent admissions only: older ones are settled in the read model (see KEEP_ADMISSIONS_MS). */
  admissions: Admission[];
  /** Recent volume admissions, the latest per volume (same horizon as VM admissions). */
  volumeAdmissions: VolumeAdmission[];
}

/** Admissions older than this (relative to the newest) are dropped from the state, so it stays small. */
export const KEEP_ADMISSIONS_MS = 10 * 60 * 1000;

export function initialProjectState(): ProjectState {
  return { exists: false, name: null, quotas: {}, admissions: [], volumeAdmissions: [] };
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
    case 'ProjectVolumeAdmitted':
    case 'ProjectVolumeReleased': {
      const { volumeId, at } = event.data;
      const horizon = Date.parse(at) - KEEP_ADMISSIONS_MS;
      const kept = (state.volumeAdmissions ?? []).filter((a) => a.volumeId !== volumeId && Date.parse(a.at) >= horizon);
      if (event.type === 'ProjectVolumeReleased') return { ...state, volumeAdmissions: kept };
      return { ...state, volumeAdmissions: [...kept, { volumeId, sizeGiB: event.data.sizeGiB, at }] };
    }
  }
}
