import { DomainError } from '../domain-error.js';
import type { ProjectCommand } from './project.commands.js';
import type { ProjectEvent } from './project.events.js';
import type { ProjectState } from './project.state.js';

type Cmd<T extends ProjectCommand['type']> = Extract<ProjectCommand, { type: T }>;

/** What the usage of volumes is computed from: the read model's sizes and the clock of the command. */
export interface VolumeUsageInput {
  settledVolumes?: Record<string, number | null>;
  at: string;
  inFlightMs: number;
}

/**
 * The disk each volume of the project takes: the larger of what the read model shows and an
 * admission still in flight (a create or grow it does not show yet). A volume the read model
 * settled as null (deleted, or its create failed) takes nothing, whatever was admitted.
 */
export function volumeSizes(state: ProjectState, input: VolumeUsageInput): Map<string, number> {
  const settled = input.settledVolumes ?? {};
  const sizes = new Map<string, number>();
  for (const [id, size] of Object.entries(settled)) if (size !== null) sizes.set(id, size);
  const horizon = Date.parse(input.at) - input.inFlightMs;
  for (const a of state.volumeAdmissions ?? []) {
    if (settled[a.volumeId] === null || Date.parse(a.at) < horizon) continue;
    sizes.set(a.volumeId, Math.max(sizes.get(a.volumeId) ?? 0, a.sizeGiB));
  }
  return sizes;
}

export function volumesDiskGiB(state: ProjectState, input: VolumeUsageInput): number {
  let total = 0;
  for (const size of volumeSizes(state, input).values()) total += size;
  return total;
}

/**
 * Admits a volume's size against diskGiB. `used` is the project's whole disk (VM disks and
 * volumes) before this decision; only what the volume grows by is requested. A project without a
 * diskGiB limit records nothing; the same size admitted again decides nothing.
 */
export function admitVolume(cmd: Cmd<'AdmitVolume'>, state: ProjectState, usedDiskGiB: number): ProjectEvent[] {
  const limit = state.quotas.diskGiB;
  if (limit === undefined) return [];
  const previous = (state.volumeAdmissions ?? []).find((a) => a.volumeId === cmd.volumeId);
  if (previous && previous.sizeGiB === cmd.sizeGiB) return [];
  const current = volumeSizes(state, cmd).get(cmd.volumeId) ?? 0;
  const requested = Math.max(0, cmd.sizeGiB - current);
  if (usedDiskGiB + requested > limit) {
    throw new DomainError(
      'quota',
      `quota exceeded: project ${cmd.project} uses ${usedDiskGiB} of its ${limit} diskGiB; this volume needs ${requested} more`,
      { project: cmd.project, quota: 'diskGiB', used: usedDiskGiB, requested, limit },
    );
  }
  return [{ type: 'ProjectVolumeAdmitted', data: { volumeId: cmd.volumeId, sizeGiB: cmd.sizeGiB, at: cmd.at } }];
}

export function releaseVolume(cmd: Cmd<'ReleaseVolumeAdmission'>, state: ProjectState): ProjectEvent[] {
  if (!(state.volumeAdmissions ?? []).some((a) => a.volumeId === cmd.volumeId)) return [];
  return [{ type: 'ProjectVolumeReleased', data: { volumeId: cmd.volumeId, at: cmd.at } }];
}
