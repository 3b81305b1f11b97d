import type { ParkedItem } from '../domain/parked.js';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import type { HostJobData, VolumeJobData } from './jobs.js';

/** Where the saga runner puts side effects: a host's queue. */
export interface JobSink {
  enqueueHostJob(hostId: string, jobId: string, data: HostJobData): Promise<void>;
  /** A volume's own step on its host's queue (same queue as the VMs' jobs). */
  enqueueVolumeJob?(hostId: string, jobId: string, data: VolumeJobData): Promise<void>;
  /**
   * True when the queues are new since the last call (Redis restarted empty or
   * wiped): jobs enqueued before are gone and must be put back. A fresh Redis
   * answers true as well. True until queuesRecovered() is called.
   */
  queuesLost?(): Promise<boolean>;
  queuesRecovered?(): Promise<void>;
}

/**
 * Where a consumer puts a poison event (domain/parked.ts) so it can go on;
 * `count` and `last` survive restarts (they are read from the store by load()).
 */
export interface Parking {
  readonly count: number;
  readonly last: ParkedItem | undefined;
  load(): Promise<void>;
  /** False when this event was parked before (a replay after a restart). */
  park(event: RecordedEvent, error: unknown): Promise<boolean>;
}
