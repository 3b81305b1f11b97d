import { Job, Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  hostQueueName,
  RESULT_MESSAGE_FIELD,
  RESULTS_QUEUE,
  resultsStreamKey,
  streamField,
  type FailedJob,
  type HostJobData,
  type QueueJobData,
  type DeadResult,
  type ResultCounts,
  type ResultMessage,
  type VolumeJobData,
} from '../application/jobs.js';
import { QueueBatcher } from './queue-batcher.js';
import { ResultStreamAdmin } from './result-stream-admin.js';
import { ResultStreamWriter } from './result-stream-writer.js';

export interface QueueSettings {
  connection: ConnectionOptions;
  /** BullMQ key prefix: every key of this deployment (or test run) lives under it. */
  prefix: string;
  attempts: number;
  backoffMs: number;
}

function failedView(j: Job): FailedJob {
  const d = (j.data ?? {}) as { step?: string; operationId?: string; vmId?: string };
  return {
    id: j.id ?? '',
    step: d.step ?? j.name,
    operationId: d.operationId ?? null,
    vmId: d.vmId ?? null,
    error: j.failedReason ?? '',
    attempts: j.attemptsMade,
    stalled: j.stalledCounter ?? 0,
    failedAt: j.finishedOn ? new Date(j.finishedOn).toISOString() : null,
  };
}

/** BullMQ custom ids may not contain ':' nor be integers. */
export function safeJobId(id: string): string {
  const s = id.replace(/:/g, '.');
  return /^\d+$/.test(s) ? `j${s}` : s;
}

/**
 * Producer side of every queue: one queue per host, one results queue.
 * Completed jobs are kept for a day so a re-enqueue with the same id (a saga
 * replaying after a crash) is a no-op rather than a second run.
 */
export class QueueHub {
  private readonly queues = new Map<string, Queue>();
  private readonly batchers = new Map<string, QueueBatcher>();
  private readonly results: ResultStreamWriter;
  private readonly resultAdmin: ResultStreamAdmin;

  constructor(readonly settings: QueueSettings) {
    this.results = new ResultStreamWriter(() => this.client(), resultsStreamKey(settings.prefix));
    this.resultAdmin = new ResultStreamAdmin(() => this.client(), settings.prefix);
  }

  private async client(): Promise<Redis> {
    return (await this.queue(RESULTS_QUEUE).backend.client) as unknown as Redis;
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.settings.connection, prefix: this.settings.prefix });
      this.queues.set(name, q);
    }
    return q;
  }

  /** Adds to one queue go out together when several come in one turn (see QueueBatcher). */
  private add(queueName: string, name: string, data: unknown, opts: JobsOptions): Promise<void> {
    let b = this.batchers.get(queueName);
    if (!b) {
      b = new QueueBatcher(this.queue(queueName));
      this.batchers.set(queueName, b);
    }
    return b.add(name, data, opts);
  }

  async enqueueHostJob(hostId: string, jobId: string, data: HostJobData): Promise<void> {
    await this.enqueue(hostId, jobId, data);
  }

  async enqueueVolumeJob(hostId: string, jobId: string, data: VolumeJobData): Promise<void> {
    await this.enqueue(hostId, jobId, data);
  }

  private async enqueue(hostId: string, jobId: string, data: QueueJobData): Promise<void> {
    const opts: JobsOptions = {
      jobId: safeJobId(jobId),
      attempts: this.settings.attempts,
      backoff: { type: 'exponential', delay: this.settings.backoffMs },
      removeOnComplete: { age: 24 * 3600, count: 50000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
    await this.add(hostQueueName(hostId), data.step, data, opts);
  }

  private get epochKey(): string {
    return `${this.settings.prefix}:queues-epoch`;
  }

  /**
   * True when the marker key is missing: every job enqueued before is gone
   * (Redis restarted without persistence, or wiped). The caller puts the jobs
   * back, then calls queuesRecovered(); until then this keeps answering true,
   * so a recovery cut short by Redis dropping again is done again.
   */
  async queuesLost(): Promise<boolean> {
    const client = await this.queue(RESULTS_QUEUE).backend.client;
    return !(await client.hexists(this.epochKey, 'since'));
  }

  async queuesRecovered(): Promise<void> {
    const client = await this.queue(RESULTS_QUEUE).backend.client;
    await client.hset(this.epochKey, { since: new Date().toISOString() });
  }

  private get heartbeatKey(): string {
    return `${this.settings.prefix}:heartbeats`;
  }

  /** A worker's "still here" for one host (the control plane's heartbeat watch reads them all). */
  async heartbeat(hostId: string, beat: { at: string; by: string }): Promise<void> {
    const client = await this.queue(RESULTS_QUEUE).backend.client;
    await client.hset(this.heartbeatKey, { [hostId]: JSON.stringify(beat) });
  }

  /** Every host's last heartbeat, as written (hostId → JSON). */
  async heartbeats(): Promise<Record<string, string>> {
    const client = await this.queue(RESULTS_QUEUE).backend.client;
    return client.hgetall(this.heartbeatKey);
  }

  /** A removed host is watched no more. */
  async forgetHeartbeat(hostId: string): Promise<void> {
    const client = await this.queue(RESULTS_QUEUE).backend.client;
    await client.hdel(this.heartbeatKey, hostId);
  }

  /**
   * A result on the results stream, under the id a BullMQ job had before. Posted twice (a step run
   * again after its worker died), it is recorded once: the decider accepts one result per step.
   */
  async postResult(jobId: string, message: ResultMessage): Promise<void> {
    await this.results.post(safeJobId(jobId), message);
  }

  /** Results posted and not yet recorded (the consumer deletes an entry once it is recorded). */
  async pendingResults(): Promise<number> {
    return (await this.client()).xlen(resultsStreamKey(this.settings.prefix));
  }

  /** Results being recorded, not read yet, and given up (for /metrics, /health and GET /v1/queues/results). */
  resultCounts(): Promise<ResultCounts> {
    return this.resultAdmin.counts();
  }

  /** Dead-lettered results, oldest first. */
  deadResults(limit: number): Promise<DeadResult[]> {
    return this.resultAdmin.list(limit);
  }

  deadResult(id: string): Promise<DeadResult | undefined> {
    return this.resultAdmin.get(id);
  }

  /** A dead-lettered result back on the results stream (recorded once however often it is posted). */
  retryDeadResult(id: string): Promise<DeadResult | undefined> {
    return this.resultAdmin.retry(id);
  }

  discardDeadResult(id: string): Promise<DeadResult | undefined> {
    return this.resultAdmin.discard(id);
  }

  /** Jobs waiting, delayed or running on a host's queue (for /metrics and reconciliation). */
  async depth(hostId: string): Promise<number> {
    const counts = await this.queue(hostQueueName(hostId)).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /**
   * Jobs by state, and `stalledRedeliveries`: how often the jobs still held (waiting, running,
   * delayed, failed; the newest 1000) were found stalled and handed out again, a worker that dies
   * or loses its lock mid-call.
   */
  async counts(hostId: string): Promise<Record<string, number>> {
    const q = this.queue(hostQueueName(hostId));
    const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
    const held = await q.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'failed'], 0, 999);
    const stalledRedeliveries = held.reduce((n, j) => n + (j?.stalledCounter ?? 0), 0);
    return { ...counts, stalledRedeliveries };
  }

  async failed(hostId: string, limit: number): Promise<FailedJob[]> {
    const jobs = await this.queue(hostQueueName(hostId)).getFailed(0, limit - 1);
    return jobs.map(failedView);
  }

  /** One job of a host's queue while it is in the failed set; undefined otherwise (gone, retried, never failed). */
  async failedJob(hostId: string, jobId: string): Promise<FailedJob | undefined> {
    const job = await Job.fromId<HostJobData>(this.queue(hostQueueName(hostId)), jobId);
    if (!job || (await job.getState()) !== 'failed') return undefined;
    return failedView(job);
  }

  /** Back to waiting with its attempts reset; false when it is no longer failed (someone acted first). */
  async retryFailed(hostId: string, jobId: string): Promise<boolean> {
    const job = await Job.fromId<HostJobData>(this.queue(hostQueueName(hostId)), jobId);
    if (!job) return false;
    try {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Removes a failed job and fails its operation in its stead, as the worker would have on a final
   * failure, so the operation ends and its saga compensates instead of waiting for a job that is gone.
   */
  async discardFailed(hostId: string, jobId: string, principal: string, reason: string): Promise<boolean> {
    const job = await Job.fromId<HostJobData>(this.queue(hostQueueName(hostId)), jobId);
    if (!job || (await job.getState()) !== 'failed') return false;
    await job.remove();
    const d = job.data;
    // Compensation steps report nothing (as in the host worker): their operation already failed.
    if (d.step !== 'abortIncoming') {
      await this.postResult(`${jobId}.discarded`, {
        vmId: d.vmId,
        operationId: d.operationId,
        step: d.step,
        jobId,
        principal,
        kind: 'failed',
        reason,
        attempts: job.attemptsMade,
      });
    }
    return true;
  }

  /**
   * True when some job of this operation is still waiting, delayed or running on
   * the host's queue, or its result is still waiting on the results queue (the
   * store was down, say): either way the operation will move on by itself.
   */
  async hasLiveJob(hostId: string, operationId: string): Promise<boolean> {
    const live = ['waiting', 'active', 'delayed', 'prioritized'] as const;
    // The results queue as well: results a worker of the previous version posted there.
    for (const name of [hostQueueName(hostId), RESULTS_QUEUE]) {
      const jobs = await this.queue(name).getJobs([...live], 0, 1000);
      if (jobs.some((j) => (j?.data as { operationId?: string } | undefined)?.operationId === operationId)) return true;
    }
    const entries = await (await this.client()).xrange(resultsStreamKey(this.settings.prefix), '-', '+', 'COUNT', 1000);
    return entries.some(([, fields]) => {
      const json = streamField(fields, RESULT_MESSAGE_FIELD);
      // Only an entry whose text holds the id can match: the others are not parsed at all.
      if (json === undefined || !json.includes(operationId)) return false;
      try {
        return (JSON.parse(json) as { operationId?: string }).operationId === operationId;
      } catch {
        return false; // malformed: the consumer drops it, it moves nothing
      }
    });
  }

  async close(): Promise<void> {
    // Adds still pending go out ahead of the connection's QUIT, as an add in flight always did.
    await Promise.all([...this.batchers.values()].map((b) => b.flush()));
    await this.results.flush();
    this.batchers.clear();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
