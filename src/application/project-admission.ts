import { projectDecider } from '../domain/project/project.decider.js';
import { DEFAULT_PROJECT, hasLimits, type VmFootprint } from '../domain/project/project.types.js';
import { DomainError } from '../domain/domain-error.js';
import { projectStream } from '../domain/streams.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { VolumeState } from '../domain/volume/volume.state.js';
import type { VmRecord, VolumeRecord } from '../projections/read-model.types.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';

/** What admission reads of the read models: a project's VMs (all, or those not deleted), one VM, and every volume. */
export interface ProjectVms {
  /** Every VM ever created in the project (placement groups still read it). */
  vmsOfProject(project: string): Promise<VmRecord[]>;
  liveVmsOfProject(project: string): Promise<VmRecord[]>;
  getVm(id: string): Promise<VmRecord | undefined>;
  listVolumes(): Promise<VolumeRecord[]>;
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
 * What admission reads before it decides: the project (missing is a 404, but for the
 * `default` project, which exists without a stream), and, when it has limits, what the
 * read models know of its VMs and volumes. Reads only: a caller may start it beside its
 * other checks and hand it to admitVm once they passed.
 */
export type VmAdmissionReads =
  | { limited: false }
  | {
      limited: true;
      settled: Record<string, VmFootprint | null>;
      settledVolumes: Record<string, number | null>;
    };

export async function readVmAdmission(
  aggregates: AggregateLoader,
  vms: ProjectVms,
  project: string,
): Promise<VmAdmissionReads> {
  // Where this process alone writes the store, the cache is current: the `default` project (no
  // stream) and any cached project cost no read. A limited project's admission is appended with
  // its expected revision in admitVm, which checks it again.
  const { state } = await aggregates.loadCurrent(projectDecider, projectStream(project));
  if (!state.exists && project !== DEFAULT_PROJECT) throw new DomainError('not_found', `project ${project} not found`);
  if (!hasLimits(state.quotas)) return { limited: false };
  return { limited: true, ...(await settledUsage(vms, project, recentVmIds(state.admissions))) };
}

/**
 * Reserves room for a VM in its project before the VM's first event: appended to the
 * project's stream with its expected revision, so of two concurrent creates (in this
 * process or any other API process on the same store) one re-decides against the
 * other's admission and cannot overshoot. An unlimited project records nothing.
 * `reads` (readVmAdmission) when the caller read them already; they are read here otherwise.
 */
export async function admitVm(
  aggregates: AggregateLoader,
  vms: ProjectVms,
  project: string,
  vmId: string,
  footprint: VmFootprint,
  meta: CommandMeta,
  now: () => Date,
  reads?: VmAdmissionReads,
): Promise<void> {
  const r = reads ?? (await readVmAdmission(aggregates, vms, project));
  if (!r.limited) return;
  await handleCommand(
    aggregates,
    projectDecider,
    projectStream(project),
    {
      type: 'AdmitVm',
      project,
      vmId,
      footprint,
      settled: r.settled,
      settledVolumes: r.settledVolumes,
      at: now().toISOString(),
      inFlightMs: IN_FLIGHT_MS,
    },
    meta,
    { now },
  );
}

/**
 * The disk a volume takes from its project's diskGiB: from its create request until deleted
 * (a deleting one still has its file), nothing once its create failed; a grow in flight counts
 * at its new size.
 */
export function volumeQuotaSize(v: VolumeState): number | null {
  if (!v.exists || v.status === 'deleted' || v.status === 'failed') return null;
  return Math.max(v.sizeGiB, v.pending?.sizeGiB ?? 0);
}

const recentVmIds = (admissions: readonly { vmId: string }[]) => admissions.map((a) => a.vmId);

/**
 * What the read models know of a project's VMs and volumes, as admission commands take it.
 * The VMs come from the project's live index (not deleted), so the cost follows the VMs that
 * exist, not every VM the project ever had. The decider also needs the word on its recent
 * admissions (a VM admitted, created and deleted within the in-flight window must settle as
 * nothing, not count as in flight): those few are looked up one by one.
 */
export async function settledUsage(
  rm: ProjectVms,
  project: string,
  recentlyAdmitted: readonly string[],
): Promise<{ settled: Record<string, VmFootprint | null>; settledVolumes: Record<string, number | null> }> {
  const settled: Record<string, VmFootprint | null> = {};
  const settle = (r: VmRecord | undefined) => {
    if (!r?.state.id) return;
    const spec = r.state.spec;
    settled[r.state.id] = countsAgainstQuota(r.state) && spec ? spec : null;
  };
  for (const r of await rm.liveVmsOfProject(project)) settle(r);
  for (const vmId of recentlyAdmitted) if (!(vmId in settled)) settle(await rm.getVm(vmId));
  const settledVolumes: Record<string, number | null> = {};
  for (const r of await rm.listVolumes()) {
    if (r.state.id && r.state.project === project) settledVolumes[r.state.id] = volumeQuotaSize(r.state);
  }
  return { settled, settledVolumes };
}

/**
 * Reserves a volume's size (a create's, or a grow's new size) in its project's diskGiB before
 * the volume's request event, with the same expected-revision serialization as admitVm: of ten
 * concurrent creates only those that fit are admitted, in any number of API processes.
 */
export async function admitVolume(
  aggregates: AggregateLoader,
  rm: ProjectVms,
  project: string,
  volumeId: string,
  sizeGiB: number,
  meta: CommandMeta,
  now: () => Date,
): Promise<void> {
  const stream = projectStream(project);
  const { state } = await aggregates.load(projectDecider, stream);
  if (!state.exists && project !== DEFAULT_PROJECT) throw new DomainError('not_found', `project ${project} not found`);
  if (state.quotas.diskGiB === undefined) return;
  const { settled, settledVolumes } = await settledUsage(rm, project, recentVmIds(state.admissions));
  const at = now().toISOString();
  await handleCommand(
    aggregates,
    projectDecider,
    stream,
    { type: 'AdmitVolume', project, volumeId, sizeGiB, settled, settledVolumes, at, inFlightMs: IN_FLIGHT_MS },
    meta,
    { now },
  );
}

/** Gives back an admission whose volume request was never appended (no host could take it). */
export async function releaseVolumeAdmission(
  aggregates: AggregateLoader,
  project: string,
  volumeId: string,
  meta: CommandMeta,
  now: () => Date,
): Promise<void> {
  await handleCommand(
    aggregates,
    projectDecider,
    projectStream(project),
    { type: 'ReleaseVolumeAdmission', project, volumeId, at: now().toISOString() },
    meta,
    { now },
  );
}
