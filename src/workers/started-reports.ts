import type { Logger } from 'pino';
import type { HostJobData } from '../application/jobs.js';
import type { QueueHub } from './queue-hub.js';
import { STARTED_AFTER_MS, StartedNotice } from './started-notice.js';

/** Operations whose `started` this worker sent, remembered for their later steps (a bounded window). */
const REMEMBERED_STARTS = 4096;

export interface StartedBase {
  vmId: string;
  operationId: string;
  jobId: string;
  principal: string;
}

/**
 * A host worker's `started` reports: one per operation, sent on its own for a slow step, or carried
 * in a fast step's outcome. Kept apart from the job loop (host-worker.ts) because its only state is
 * which operations this worker already reported running.
 */
export class StartedReports {
  /** operationId → the step whose `started` this worker sent (alone or in its outcome). */
  private readonly sent = new Map<string, string>();

  constructor(
    private readonly hub: QueueHub,
    private readonly log: Logger,
    private readonly afterMs = STARTED_AFTER_MS,
  ) {}

  /** The notice for this step, or none when an earlier step of its operation reported `started` from here. */
  notice(data: HostJobData, base: StartedBase): StartedNotice | undefined {
    const earlier = this.sent.get(data.operationId);
    if (earlier !== undefined && earlier !== data.step) return undefined;
    const post = async () => {
      await this.hub.postResult(`${base.jobId}.started`, { ...base, step: data.step, kind: 'started' });
      this.remember(data);
    };
    const onError = (err: unknown) =>
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err), vm: data.vmId, step: data.step },
        'started not posted; the outcome carries it',
      );
    return new StartedNotice(post, this.afterMs, onError);
  }

  /** `{ started: true }` when the outcome must say the step began (it was not said on its own). */
  async carried(notice: StartedNotice | undefined, data: HostJobData): Promise<{ started?: true }> {
    if (!notice || !(await notice.settle())) return {};
    this.remember(data);
    return { started: true };
  }

  private remember(data: HostJobData): void {
    this.sent.delete(data.operationId);
    this.sent.set(data.operationId, data.step);
    if (this.sent.size > REMEMBERED_STARTS) this.sent.delete(this.sent.keys().next().value as string);
  }
}
