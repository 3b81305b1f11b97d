import { Worker } from 'bullmq';
import { hostQueueName } from '../../src/application/jobs.js';
import { redisOptions } from '../../src/runtime/redis-connection.js';
import type { TestApp } from './app.js';
import { waitUntil } from './e2e.js';
import { testRedisUrl } from './env.js';

export interface FailedRow {
  id: string;
  step: string;
  operationId: string | null;
  vmId: string | null;
  error: string;
  attempts: number;
  stalled: number;
}

/**
 * Puts an operation's queued job into BullMQ's failed set the way infrastructure trouble does:
 * a real BullMQ worker on the host's queue whose every attempt throws (as a worker cut off from
 * the results queue does), closed once the job is failed. The host must have no worker of its own.
 */
export async function failEveryAttempt(t: TestApp, hostId: string, operationId: string): Promise<FailedRow> {
  const connection = { ...redisOptions(testRedisUrl()), maxRetriesPerRequest: null };
  const prefix = `${t.redisPrefix}:q`;
  const failing = new Worker(
    hostQueueName(hostId),
    () => Promise.reject(new Error('results queue unreachable: ECONNREFUSED')),
    { connection, prefix },
  );
  try {
    return await waitUntil('the job in the failed set', async () => {
      const page = await t.as('admin').get(`/v1/queues/${hostId}/failed`);
      return (page.body.items as FailedRow[]).find((j) => j.operationId === operationId);
    });
  } finally {
    await failing.close();
  }
}
