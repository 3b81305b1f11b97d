/** The project every VM without one belongs to; it exists without being created (see project.state.ts). */
export const DEFAULT_PROJECT = 'default';

export const QUOTA_NAMES = ['vms', 'vcpus', 'memoryMiB', 'diskGiB'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];

/** A limit per quota; an absent one is unlimited. */
export type Quotas = Partial<Record<QuotaName, number>>;

/** What one VM takes of its project's quotas (vms: 1). */
export interface VmFootprint {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

export type Usage = Record<QuotaName, number>;

export function emptyUsage(): Usage {
  return { vms: 0, vcpus: 0, memoryMiB: 0, diskGiB: 0 };
}

export function addFootprint(u: Usage, f: VmFootprint): Usage {
  return {
    vms: u.vms + 1,
    vcpus: u.vcpus + f.vcpus,
    memoryMiB: u.memoryMiB + f.memoryMiB,
    diskGiB: u.diskGiB + f.diskGiB,
  };
}

/** True when a project has at least one limit (an unlimited one needs no admission). */
export function hasLimits(q: Quotas): boolean {
  return QUOTA_NAMES.some((n) => q[n] !== undefined);
}
