import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Logger } from 'pino';
import type { DeadResult } from '../../application/jobs.js';
import { mustSeeAllProjects } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import { errorBody } from '../../http/error-body.js';
import { LOGGER, QUEUES, READ_MODELS, type QueueStats } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';
import type { DeadResultActionResponse } from './dto/dead-result.response.js';

/** A Redis stream entry id (milliseconds-sequence), as the dead-letter list gives it. */
const ENTRY_ID = /^\d{1,20}-\d{1,20}$/;

/**
 * The results the control plane gave up recording (the results stream's dead letters). A retry puts
 * the result back on the results stream as its worker posted it: the consumer records it like any
 * other, and a result the log already holds decides nothing (one result per step, fences by id),
 * so a retry never records twice. A discard deletes it: a VM operation it belonged to then has neither
 * job nor result, and the host's reconciler reports what the driver runs, which closes it.
 */
@Injectable()
export class DeadResultsService {
  constructor(
    @Inject(QUEUES) private readonly queues: QueueStats,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** Results name VMs and hosts of every project: an operator scoped to some projects sees none of them. */
  mustSeeAll(p: Principal): void {
    mustSeeAllProjects(
      p,
      'see the results stream',
      'it spans every project',
      'an admin (or an operator of all projects)',
    );
  }

  async list(limit: number, p: Principal): Promise<DeadResult[]> {
    this.mustSeeAll(p);
    return Promise.all((await this.queues.deadResults(limit)).map((r) => this.withHost(r)));
  }

  /** A result names its host only when it is about one (observed, fenced): else its VM's or volume's. */
  private async withHost(r: DeadResult): Promise<DeadResult> {
    if (r.hostId !== null) return r;
    const placed = r.vmId
      ? (await this.readModels.getVm(r.vmId))?.state.hostId
      : r.volumeId
        ? (await this.readModels.getVolume(r.volumeId))?.state.hostId
        : null;
    return { ...r, hostId: placed ?? null };
  }

  private checkId(id: string): void {
    if (!ENTRY_ID.test(id)) {
      const message = 'id must be a dead-lettered result id as listed (<milliseconds>-<sequence>)';
      throw new BadRequestException(errorBody(400, message, [{ field: 'id', errors: [message] }]));
    }
  }

  private notFound(id: string): NotFoundException {
    return new NotFoundException(`result ${id} is not on the dead-letter stream`);
  }

  async retry(id: string, p: Principal, reason?: string): Promise<DeadResultActionResponse> {
    this.mustSeeAll(p);
    this.checkId(id);
    const result = await this.queues.retryDeadResult(id);
    if (!result) throw this.notFound(id);
    this.log.warn({ result, by: p.id, reason }, 'dead-lettered result put back on the results stream');
    return { action: 'retried', result: await this.withHost(result) };
  }

  async discard(id: string, p: Principal, reason?: string): Promise<DeadResultActionResponse> {
    this.mustSeeAll(p);
    this.checkId(id);
    const result = await this.queues.discardDeadResult(id);
    if (!result) throw this.notFound(id);
    this.log.warn({ result, by: p.id, reason }, 'dead-lettered result discarded');
    return { action: 'discarded', result: await this.withHost(result) };
  }
}
