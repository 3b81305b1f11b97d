import { DomainError } from '../domain/domain-error.js';
import { free, type HostState } from '../domain/host/host.state.js';
import {
  describeRefusals,
  rankHosts,
  rankingEvidence,
  type GroupPolicy,
  type PlacementStrategy,
  type RankedHost,
  type RankRequest,
  type Ranking,
} from '../domain/placement/host-ranking.js';
import type { MemberView } from '../domain/placement-group/placement-group.commands.js';
import { placementGroupDecider } from '../domain/placement-group/placement-group.decider.js';
import { occupancy, type PlacementGroupState } from '../domain/placement-group/placement-group.state.js';
import { placementGroupStream } from '../domain/streams.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { VmRecord } from '../projections/read-model.types.js';
import {
  ConcurrencyExhaustedError,
  handleCommand,
  PreconditionFailedError,
  type CommandMeta,
} from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';
import { IN_FLIGHT_MS, type ProjectVms } from './project-admission.js';

/** A host as ranking sees it (a removed one is not passed at all). */
export function rankedHost(h: HostState): RankedHost {
  return {
    id: h.id ?? '',
    name: h.name,
    driver: h.driver,
    state: h.state,
    unreachable: h.unreachable !== null,
    fenced: Boolean(h.fenced),
    labels: h.labels,
    free: free(h),
  };
}

/** Where a VM is now: its host, and the target of a migration in flight (it is on both until it ends). */
export function hostsOfVm(vm: VmState): string[] {
  if (!vm.exists || vm.state === 'deleted' || vm.state === 'failed') return [];
  return [vm.hostId, vm.migration?.targetHostId].filter((h): h is string => typeof h === 'string');
}

/** The read models' word on every member of the group (see MemberView): a VM not placed yet is left out. */
export function memberView(records: VmRecord[], groupId: string, now: Date): MemberView {
  const settled: Record<string, string[]> = {};
  for (const r of records) {
    if (!r.state.id || r.state.spec?.placementGroupId !== groupId) continue;
    const hosts = hostsOfVm(r.state);
    const gone = !r.state.exists || r.state.state === 'deleted' || r.state.state === 'failed';
    if (hosts.length > 0 || gone) settled[r.state.id] = hosts;
  }
  return { settled, at: now.toISOString(), inFlightMs: IN_FLIGHT_MS };
}

export function groupPolicy(state: PlacementGroupState, view: MemberView, except: string): GroupPolicy {
  return { name: state.name, policy: state.policy, strict: state.strict, members: occupancy(state, view, except) };
}

/** A refusal that names every host and why: 409 with `details.hosts`. */
export function placementRefusal(what: string, ranking: Ranking): DomainError {
  return new DomainError('capacity', `no host can take ${what}: ${describeRefusals(ranking.refused)}`, {
    hosts: ranking.refused.map(({ id, name, reason }) => ({ id, name, reason })),
  });
}

export interface GroupAdmission {
  vmId: string;
  vmName: string;
  vcpus: number;
  memoryMiB: number;
  hostSelector?: Record<string, string>;
  strategy?: PlacementStrategy;
  /** A migration: the host the VM leaves, and the driver it must stay on. */
  excludeHostId?: string;
  driver?: string;
}

/**
 * Chooses the host of a group member and records it on the group's stream with the expected
 * revision. Two concurrent admissions cannot both see a free host: the loser's append conflicts,
 * and it plans again against the winner's member (the decider refuses a hard rule broken).
 * When no host keeps the rule, the refusal names every host and why, and nothing is appended.
 */
export async function admitToGroup(
  aggregates: AggregateLoader,
  vms: ProjectVms,
  groupId: string,
  project: string,
  req: GroupAdmission,
  hosts: () => Promise<HostState[]>,
  meta: CommandMeta,
  now: () => Date,
): Promise<{ hostId: string }> {
  const stream = placementGroupStream(groupId);
  for (let attempt = 0; attempt < 50; attempt++) {
    const { state, revision } = await aggregates.load(placementGroupDecider, stream);
    if (!state.exists || state.deleted || state.project !== project)
      throw new DomainError(
        'not_found',
        `placementGroupId: placement group ${groupId} not found in project ${project}`,
      );
    const view = memberView(await vms.vmsOfProject(project), groupId, now());
    const rank: RankRequest = {
      vcpus: req.vcpus,
      memoryMiB: req.memoryMiB,
      group: groupPolicy(state, view, req.vmId),
      ...(req.hostSelector ? { hostSelector: req.hostSelector } : {}),
      ...(req.strategy ? { strategy: req.strategy } : {}),
      ...(req.excludeHostId ? { excludeHostId: req.excludeHostId } : {}),
      ...(req.driver ? { driver: req.driver } : {}),
    };
    const ranking = rankHosts((await hosts()).map(rankedHost), rank);
    const chosen = ranking.eligible[0];
    if (!chosen) throw placementRefusal(`${req.vcpus} vCPUs and ${req.memoryMiB} MiB in group ${state.name}`, ranking);
    try {
      await handleCommand(
        aggregates,
        placementGroupDecider,
        stream,
        {
          type: 'AdmitMember',
          vmId: req.vmId,
          vmName: req.vmName,
          hostId: chosen.id,
          candidates: rankingEvidence(ranking, chosen.id, rank),
          view,
        },
        meta,
        // At the revision the plan was made against: a plan (and its evidence) never outlives a newer member.
        { maxAttempts: 1, ...(revision !== undefined ? { ifMatch: revision } : {}) },
      );
      return { hostId: chosen.id };
    } catch (err) {
      // Lost the race (or the winner took this host): plan again from the group's new revision.
      if (err instanceof ConcurrencyExhaustedError || err instanceof PreconditionFailedError) continue;
      if (err instanceof DomainError && err.code === 'capacity') continue;
      throw err;
    }
  }
  throw new ConcurrencyExhaustedError(stream, 50);
}
