import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { handleCommand } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { countsAgainstQuota, volumeQuotaSize } from '../../application/project-admission.js';
import type { ProjectCommand } from '../../domain/project/project.commands.js';
import { projectDecider } from '../../domain/project/project.decider.js';
import {
  addFootprint,
  DEFAULT_PROJECT,
  emptyUsage,
  QUOTA_NAMES,
  type Quotas,
  type Usage,
} from '../../domain/project/project.types.js';
import { projectStream } from '../../domain/streams.js';
import { mayUse, seesAll } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import { AGGREGATES, CLOCK, PROJECTIONS, READ_MODELS, type Clock, type ProjectionControl } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';
import type { QuotasDto } from './dto/project.dto.js';

/** usage.diskGiB by where it goes. */
export interface DiskUsage {
  vms: number;
  volumes: number;
}

/** The v1 project shape: quotas (absent = unlimited) and what the project's live VMs and volumes use now. */
export interface ProjectView {
  name: string;
  quotas: Quotas;
  usage: Usage;
  diskUsage: DiskUsage;
  createdAt: string | null;
  updatedAt: string | null;
}

@Injectable()
export class ProjectsService {
  constructor(
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(PROJECTIONS) private readonly projections: ProjectionControl,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(name: string, quotas: QuotasDto | undefined, p: Principal, reason?: string): Promise<ProjectView> {
    await this.run({ type: 'CreateProject', name, quotas: limits(quotas) }, p, reason);
    return this.view(name, p);
  }

  async changeQuotas(name: string, quotas: QuotasDto, p: Principal, reason?: string): Promise<ProjectView> {
    const patch: Partial<Record<keyof Quotas, number | null>> = {};
    for (const q of QUOTA_NAMES) if (quotas[q] !== undefined) patch[q] = quotas[q];
    await this.run({ type: 'ChangeQuotas', name, quotas: patch }, p, reason);
    return this.view(name, p);
  }

  private async run(cmd: ProjectCommand, p: Principal, reason: string | undefined): Promise<void> {
    const operationId = randomUUID();
    const name = 'project' in cmd ? cmd.project : cmd.name;
    const result = await handleCommand(
      this.aggregates,
      projectDecider,
      projectStream(name),
      cmd,
      {
        principal: p.id,
        correlationId: operationId,
        causationId: `http:${operationId}`,
        ...(reason ? { reason } : {}),
      },
      { now: () => this.clock.now() },
    );
    const last = result.events[result.events.length - 1];
    if (last) await this.projections.waitFor(last.position, 3000, ['vms']);
  }

  /** 404 for a project the caller may not see, exactly as for one that does not exist. */
  async view(name: string, p: Principal): Promise<ProjectView> {
    if (!mayUse(p, name)) throw new NotFoundException(`project ${name} not found`);
    const { state } = await this.aggregates.load(projectDecider, projectStream(name));
    if (!state.exists && name !== DEFAULT_PROJECT) throw new NotFoundException(`project ${name} not found`);
    const rec = await this.readModels.getProject(name);
    const { usage, diskUsage } = await this.usage(name);
    return {
      name,
      quotas: state.quotas,
      usage,
      diskUsage,
      createdAt: rec?.createdAt ?? null,
      updatedAt: rec?.updatedAt ?? null,
    };
  }

  /** Every project for an all-projects caller; the caller's own (that exist) otherwise. `default` is always listed. */
  async list(p: Principal): Promise<ProjectView[]> {
    const names = new Set<string>([DEFAULT_PROJECT, ...(await this.readModels.listProjects()).map((r) => r.name)]);
    const visible = [...names].filter((n) => seesAll(p) || mayUse(p, n));
    const views: ProjectView[] = [];
    for (const n of visible) {
      try {
        views.push(await this.view(n, p));
      } catch (err) {
        if (!(err instanceof NotFoundException)) throw err;
      }
    }
    return views.sort((a, b) => a.name.localeCompare(b.name));
  }

  private async usage(name: string): Promise<{ usage: Usage; diskUsage: DiskUsage }> {
    let usage = emptyUsage();
    for (const r of await this.readModels.liveVmsOfProject(name)) {
      if (countsAgainstQuota(r.state) && r.state.spec) usage = addFootprint(usage, r.state.spec);
    }
    let volumes = 0;
    for (const r of await this.readModels.listVolumes()) {
      if (r.state.project === name) volumes += volumeQuotaSize(r.state) ?? 0;
    }
    const diskUsage = { vms: usage.diskGiB, volumes };
    return { usage: { ...usage, diskGiB: usage.diskGiB + volumes }, diskUsage };
  }
}

function limits(q: QuotasDto | undefined): Quotas {
  const out: Quotas = {};
  for (const n of QUOTA_NAMES) {
    const v = q?.[n];
    if (typeof v === 'number') out[n] = v;
  }
  return out;
}
