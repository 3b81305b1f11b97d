import { randomUUID } from 'node:crypto';
import { QmpJobError, QmpTimeoutError, type QmpClient } from './qmp.client.js';
import type { QmpJobInfo } from './qmp.types.js';

export interface QmpJobOptions {
  timeoutMs: number;
  /** Upper bound between two `query-jobs` polls; a JOB_STATUS_CHANGE event wakes the poll earlier. */
  pollMs?: number;
}

/**
 * Runs a generic QMP job (`snapshot-save`, `snapshot-load`, `snapshot-delete`) to its end.
 * The command itself returns `{}` at once; whether the job worked is known only from
 * `query-jobs[].error` once it has concluded, so that error is thrown here. The job is
 * always dismissed, so its id never lingers in QEMU.
 */
export async function runQmpJob(
  client: QmpClient,
  command: string,
  args: Record<string, unknown>,
  options: QmpJobOptions,
): Promise<void> {
  const jobId = `vl-${command}-${randomUUID().slice(0, 8)}`;
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? 50;
  await client.execute(command, { 'job-id': jobId, ...args });
  for (;;) {
    const jobs = await client.execute<QmpJobInfo[]>('query-jobs');
    const job = jobs.find((j) => j.id === jobId);
    if (!job) throw new QmpJobError(jobId, command, `job ${jobId} vanished before it concluded`);
    if (job.status === 'concluded') {
      await client.execute('job-dismiss', { id: jobId });
      if (job.error !== undefined) throw new QmpJobError(jobId, command, job.error);
      return;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      // Snapshot jobs cannot always be cancelled; the attempt is best effort.
      await client.execute('job-cancel', { id: jobId }).catch(() => undefined);
      throw new QmpTimeoutError(`${command}: job ${jobId} still ${job.status} after ${options.timeoutMs} ms`);
    }
    await client
      .waitForEvent('JOB_STATUS_CHANGE', (e) => e.data?.id === jobId, Math.min(pollMs, left))
      .catch(() => undefined);
  }
}
