import { Inject, Injectable } from '@nestjs/common';
import { admitToGroup, placementRefusal, rankedHost } from '../../application/group-admission.js';
import type { CommandMeta } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import type { AppConfig } from '../../config/config.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import type { HostState } from '../../domain/host/host.state.js';
import { rankHosts, type PlacementStrategy, type RankRequest } from '../../domain/placement/host-ranking.js';
import { hostStream } from '../../domain/streams.js';
import { vmProject, type VmState } from '../../domain/vm/vm.state.js';
import { AGGREGATES, CLOCK, CONFIG, READ_MODELS, type Clock } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';
import { checkLabels } from '../../http/labels.js';

/** What a create asks of placement beyond a size. */
export interface PlacementAsk {
  name: string;
  vcpus: number;
  memoryMiB: number;
  hostId?: string;
  hostSelector?: Record<string, string>;
  placement?: PlacementStrategy;
  placementGroupId?: string;
}

/** The placement fields a VM's spec records, and the host a group admission pinned it to. */
export interface PlacementPlan {
  spec: { hostSelector?: Record<string, string>; placement?: PlacementStrategy; placementGroupId?: string };
  hostId?: string;
}

/**
 * Placement policies at the HTTP edge: a create with a constraint (a hostSelector, a placement
 * group) is checked against every host before any event, and refused naming each host and why;
 * a group member's host is admitted on the group's stream here, so the create arrives pinned.
 */
@Injectable()
export class VmPlacement {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Every registered host that was not removed, as its stream says now. */
  async hosts(): Promise<HostState[]> {
    const recs = await this.readModels.listHosts();
    const states = await Promise.all(
      recs.map(async (r) => (await this.aggregates.load(hostDecider, hostStream(r.state.id ?? ''))).state),
    );
    return states.filter((h) => h.exists && !h.removed);
  }

  private async candidates(hostId: string | undefined): Promise<HostState[]> {
    const all = await this.hosts();
    return hostId ? all.filter((h) => h.id === hostId) : all;
  }

  /** Checks the fields (400 naming them) and, for a constrained create without a group, refuses up front (409). */
  async check(ask: PlacementAsk): Promise<PlacementPlan['spec']> {
    const hostSelector = checkLabels(ask.hostSelector, 'hostSelector');
    const strategy = ask.placement ?? this.config.placementStrategy;
    const spec: PlacementPlan['spec'] = {
      ...(hostSelector && Object.keys(hostSelector).length ? { hostSelector } : {}),
      // Recorded when chosen (by the request or the deployment), so the log says how the VM was placed.
      ...(ask.placement || strategy !== 'spread' ? { placement: strategy } : {}),
      ...(ask.placementGroupId ? { placementGroupId: ask.placementGroupId } : {}),
    };
    if (spec.hostSelector && !spec.placementGroupId) {
      const ranking = rankHosts((await this.candidates(ask.hostId)).map(rankedHost), {
        vcpus: ask.vcpus,
        memoryMiB: ask.memoryMiB,
        hostSelector: spec.hostSelector,
      });
      if (ranking.eligible.length === 0)
        throw placementRefusal(`${ask.vcpus} vCPUs and ${ask.memoryMiB} MiB with hostSelector`, ranking);
    }
    return spec;
  }

  /** A group member: its host chosen and admitted on the group's stream (refused naming every host otherwise). */
  async admit(
    ask: PlacementAsk,
    spec: PlacementPlan['spec'],
    vmId: string,
    project: string,
    meta: CommandMeta,
  ): Promise<string | undefined> {
    if (!spec.placementGroupId) return ask.hostId;
    const { hostId } = await admitToGroup(
      this.aggregates,
      this.readModels,
      spec.placementGroupId,
      project,
      {
        vmId,
        vmName: ask.name,
        vcpus: ask.vcpus,
        memoryMiB: ask.memoryMiB,
        ...(spec.hostSelector ? { hostSelector: spec.hostSelector } : {}),
        ...(spec.placement ? { strategy: spec.placement } : {}),
      },
      () => this.candidates(ask.hostId),
      meta,
      () => this.clock.now(),
    );
    return hostId;
  }

  /**
   * Where a VM can go when a migration names no target: active hosts of its driver with room that
   * match its selector and keep a hard group rule (a soft one only orders), best first. A VM in a
   * group is admitted there on the group's stream, so concurrent moves cannot break a hard rule.
   */
  async migrationTarget(vm: VmState, source: HostState, selector: unknown, meta: CommandMeta): Promise<string> {
    const hostSelector = checkLabels(selector, 'hostSelector') ?? vm.spec?.hostSelector;
    const spec = vm.spec!;
    const groupId = spec.placementGroupId;
    if (groupId) {
      const { hostId } = await admitToGroup(
        this.aggregates,
        this.readModels,
        groupId,
        vmProject(vm),
        {
          vmId: vm.id ?? '',
          vmName: spec.name,
          vcpus: spec.vcpus,
          memoryMiB: spec.memoryMiB,
          excludeHostId: source.id ?? '',
          driver: source.driver,
          ...(hostSelector ? { hostSelector } : {}),
        },
        () => this.hosts(),
        meta,
        () => this.clock.now(),
      );
      return hostId;
    }
    const rank: RankRequest = {
      vcpus: spec.vcpus,
      memoryMiB: spec.memoryMiB,
      excludeHostId: source.id ?? '',
      driver: source.driver,
      ...(hostSelector ? { hostSelector } : {}),
      ...(spec.placement ? { strategy: spec.placement } : {}),
    };
    const ranking = rankHosts((await this.hosts()).map(rankedHost), rank);
    const chosen = ranking.eligible[0];
    if (!chosen)
      throw placementRefusal(`${spec.vcpus} vCPUs and ${spec.memoryMiB} MiB (targetHostId: none given)`, ranking);
    return chosen.id;
  }

  /**
   * A migration to a named host must keep a hard group rule too (409 naming the member there);
   * the move is admitted on the group's stream like a create.
   */
  async checkTarget(vm: VmState, targetHostId: string, meta: CommandMeta): Promise<void> {
    const spec = vm.spec;
    if (!spec?.placementGroupId) return;
    // Capacity is the host decider's to refuse (the migration reserves); here only the group's rule.
    await admitToGroup(
      this.aggregates,
      this.readModels,
      spec.placementGroupId,
      vmProject(vm),
      { vmId: vm.id ?? '', vmName: spec.name, vcpus: 0, memoryMiB: 0 },
      async () => (await this.hosts()).filter((h) => h.id === targetHostId),
      meta,
      () => this.clock.now(),
    );
  }
}
