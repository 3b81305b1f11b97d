import type { HostJobData } from '../../src/application/jobs.js';
import type { JobSink } from '../../src/application/ports.js';

export interface RecordedJob {
  hostId: string;
  jobId: string;
  data: HostJobData;
}

/**
 * The saga runner's side of the queues, recorded. Like BullMQ, a job id that
 * is already queued is not queued again: `jobs` holds one entry per id, while
 * `calls` counts every enqueue the runner made.
 */
export class RecordingJobSink implements JobSink {
  readonly jobs = new Map<string, RecordedJob>();
  calls = 0;

  enqueueHostJob(hostId: string, jobId: string, data: HostJobData): Promise<void> {
    this.calls++;
    if (!this.jobs.has(jobId)) this.jobs.set(jobId, { hostId, jobId, data });
    return Promise.resolve();
  }
}
