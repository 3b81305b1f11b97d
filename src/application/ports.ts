import type { HostJobData } from '../workers/job.types.js';

/** Where the saga runner puts side effects: a host's queue. */
export interface JobSink {
  enqueueHostJob(hostId: string, jobId: string, data: HostJobData): Promise<void>;
}
