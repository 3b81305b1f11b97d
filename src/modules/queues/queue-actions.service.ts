import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { FailedJob } from '../../application/jobs.js';
import { handleCommand } from '../../application/handle-command.js';
import type { AggregateLoader } from '../../application/load-aggregate.js';
import { hostDecider } from '../../domain/host/host.decider.js';
import type { QueueJobRef } from '../../domain/host/host.events.js';
import { hostStream } from '../../domain/streams.js';
import { mayUse, seesAll } from '../../http/auth/project-scope.js';
import type { Principal } from '../../http/auth/roles.js';
import { vmProject } from '../../domain/vm/vm.state.js';
import { AGGREGATES, CLOCK, QUEUES, READ_MODELS, type Clock, type QueueStats } from '../../http/tokens.js';
import type { ReadModels } from '../../projections/read-models.js';
import type { QueueActionResponse } from './dto/queue-job.response.js';

/**
 * Retry and discard of a host queue's failed jobs. A job lands in BullMQ's failed set only when the
 * infrastructure gave up on it (stalled past its limit, results queue unreachable on the last
 * attempt): a driver failure is reported as the operation's result instead. Its operation is then
 * still in flight in the log, so a retry lets it go on and a discard fails it, compensation included.
 * Each act is recorded on the host's stream first, with the principal and the job as it was.
 */
@Injectable()
export class QueueActionsService {
  constructor(
    @Inject(QUEUES) private readonly queues: QueueStats,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(AGGREGATES) private readonly aggregates: AggregateLoader,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async hostExists(hostId: string): Promise<void> {
    const rec = await this.readModels.getHost(hostId);
    if (!rec || rec.state.removed) throw new NotFoundException(`host ${hostId} not found`);
  }

  /**
   * A host's failed jobs as `p` may see them. A job's data names a VM of some project: a principal of
   * some projects sees only the jobs of its projects' VMs (a host-level job, or one whose VM is gone from
   * the read model, belongs to no project it could prove its own), so one tenant's operator can neither
   * read nor retry nor discard — fail — another tenant's operation.
   */
  async failed(hostId: string, limit: number, p: Principal): Promise<FailedJob[]> {
    await this.hostExists(hostId);
    const jobs = await this.queues.failed(hostId, limit);
    if (seesAll(p)) return jobs;
    const shown = await Promise.all(jobs.map((j) => this.mayTouch(j, p)));
    return jobs.filter((_, i) => shown[i]);
  }

  private async mayTouch(job: FailedJob, p: Principal): Promise<boolean> {
    if (seesAll(p)) return true;
    if (!job.vmId) return false;
    const vm = await this.readModels.getVm(job.vmId);
    return vm !== undefined && mayUse(p, vmProject(vm.state));
  }

  private async failedJob(hostId: string, jobId: string, p: Principal): Promise<FailedJob> {
    await this.hostExists(hostId);
    const job = await this.queues.failedJob(hostId, jobId);
    // Another tenant's job answers as a missing one would: its id cannot be probed.
    if (!job || !(await this.mayTouch(job, p)))
      throw new NotFoundException(`job ${jobId} is not in the failed set of host ${hostId}'s queue`);
    return job;
  }

  private async record(
    hostId: string,
    p: Principal,
    cmd: Parameters<typeof hostDecider.decide>[0],
    reason?: string,
  ): Promise<string> {
    const id = randomUUID();
    const result = await handleCommand(
      this.aggregates,
      hostDecider,
      hostStream(hostId),
      cmd,
      { principal: p.id, correlationId: id, causationId: `http:${id}`, ...(reason ? { reason } : {}) },
      { now: () => this.clock.now() },
    );
    return String(result.events[result.events.length - 1]?.position ?? '');
  }

  async retry(hostId: string, jobId: string, p: Principal, reason?: string): Promise<QueueActionResponse> {
    const job = await this.failedJob(hostId, jobId, p);
    const position = await this.record(hostId, p, { type: 'RetryQueueJob', job: ref(job), by: p.id }, reason);
    if (!(await this.queues.retryFailed(hostId, jobId))) {
      throw new ConflictException(`job ${jobId} left the failed set before it could be retried`);
    }
    return { action: 'retried', hostId, job, position };
  }

  async discard(hostId: string, jobId: string, p: Principal, reason?: string): Promise<QueueActionResponse> {
    const job = await this.failedJob(hostId, jobId, p);
    const why = `job ${jobId} (${job.step}) discarded by ${p.id} after: ${job.error}${reason ? ` (${reason})` : ''}`;
    const position = await this.record(
      hostId,
      p,
      { type: 'DiscardQueueJob', job: ref(job), by: p.id, reason: why },
      reason,
    );
    if (!(await this.queues.discardFailed(hostId, jobId, p.id, why))) {
      throw new ConflictException(`job ${jobId} left the failed set before it could be discarded`);
    }
    return { action: 'discarded', hostId, job, position };
  }
}

function ref(job: FailedJob): QueueJobRef {
  return {
    jobId: job.id,
    step: job.step,
    operationId: job.operationId,
    vmId: job.vmId,
    error: job.error,
    attempts: job.attempts,
  };
}
