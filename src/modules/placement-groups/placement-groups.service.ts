import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { memberView } from '../../application/group-admission.js';
import { handleCommand } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { PlacementGroupDirectory } from '../../application/placement-group-directory.js';
import { DomainError } from '../../domain/domain-error.js';
import type { PlacementGroupCommand } from '../../domain/placement-group/placement-group.commands.js';
import { placementGroupDecider } from '../../domain/placement-group/placement-group.decider.js';
import type { PlacementGroupState } from '../../domain/placement-group/placement-group.state.js';
import { projectDecider } from '../../domain/project/project.decider.js';
import { DEFAULT_PROJECT } from '../../domain/project/project.types.js';
import { placementGroupStream, projectStream } from '../../domain/streams.js';
import { mayUse, projectForCreate } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import { AGGREGATES, CLOCK, READ_MODELS, type Clock } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';
import type { CreatePlacementGroupDto } from './dto/placement-group.dto.js';
import { toPlacementGroupView, type PlacementGroupView } from './placement-group.view.js';

/** Placement groups: records with their own streams, scoped to a project like its VMs. */
@Injectable()
export class PlacementGroupsService {
  private readonly directory: PlacementGroupDirectory;

  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.directory = new PlacementGroupDirectory(aggregates.store);
  }

  private async run(id: string, cmd: PlacementGroupCommand, p: Principal, reason?: string) {
    const operationId = randomUUID();
    return handleCommand(
      this.aggregates,
      placementGroupDecider,
      placementGroupStream(id),
      cmd,
      {
        principal: p.id,
        correlationId: operationId,
        causationId: `http:${operationId}`,
        ...(reason ? { reason } : {}),
      },
      { now: () => this.clock.now() },
    );
  }

  async create(body: CreatePlacementGroupDto, p: Principal): Promise<PlacementGroupView> {
    const project = projectForCreate(p, body.project);
    if (project !== DEFAULT_PROJECT) {
      const { state } = await this.aggregates.load(projectDecider, projectStream(project));
      if (!state.exists) throw new DomainError('not_found', `project: project ${project} not found`);
    }
    const groupId = randomUUID();
    const { name, policy, strict } = body;
    await this.run(groupId, { type: 'CreatePlacementGroup', groupId, name, policy, strict, project }, p, body.reason);
    return this.view(groupId, p);
  }

  /** Another project's group reads exactly as a missing one. */
  private async state(id: string, p: Principal): Promise<PlacementGroupState> {
    const { state } = await this.aggregates.load(placementGroupDecider, placementGroupStream(id));
    if (!state.exists || !mayUse(p, state.project)) throw new NotFoundException(`placement group ${id} not found`);
    return state;
  }

  private async members(state: PlacementGroupState) {
    return memberView(await this.readModels.vmsOfProject(state.project), state.id ?? '', this.clock.now());
  }

  async view(id: string, p: Principal): Promise<PlacementGroupView> {
    const state = await this.state(id, p);
    await this.directory.list();
    return toPlacementGroupView(state, await this.members(state), this.directory.createdAt(id));
  }

  /** The groups of the caller's projects (every one for an all-projects caller), oldest first; deleted ones left out. */
  async list(p: Principal): Promise<PlacementGroupView[]> {
    const out: PlacementGroupView[] = [];
    for (const id of await this.directory.list()) {
      const { state } = await this.aggregates.load(placementGroupDecider, placementGroupStream(id));
      if (!state.exists || state.deleted || !mayUse(p, state.project)) continue;
      out.push(toPlacementGroupView(state, await this.members(state), this.directory.createdAt(id)));
    }
    return out;
  }

  /** Refused (409 naming them) while the group has live members. */
  async remove(id: string, p: Principal, reason?: string): Promise<PlacementGroupView> {
    const state = await this.state(id, p);
    if (state.deleted) throw new NotFoundException(`placement group ${id} not found`);
    await this.run(id, { type: 'DeletePlacementGroup', view: await this.members(state) }, p, reason);
    return this.view(id, p);
  }
}
