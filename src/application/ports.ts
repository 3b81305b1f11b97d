import type { HostJobData } from './jobs.js';

/** Where the saga runner puts side effects: a host's queue. */
export interface JobSink {
  enqueueHostJob(hostId: string, jobId: string, data: HostJobData): Promise<void>;
  /**
   * True when the queues are new since the last call (Redis restarted empty or
   * wiped): jobs enqueued before are gone and must be put back. A fresh Redis
   * answers true as well. True until queuesRecovered() is called.
   */
  queuesLost?(): Promise<boolean>;
  queuesRecovered?(): Promise<void>;
}
