/**
 * Retry and discard of a host queue's failed jobs, with real Redis, real BullMQ and a real
 * worker process role. A job reaches BullMQ's failed set only when the infrastructure gave up on
 * it (a worker's result post failing on every attempt, a job stalled past its limit); the test
 * produces one with a real BullMQ worker on the host's queue whose every attempt throws, as a
 * worker cut off from the results queue does. The API runs without workers (ROLE=api).
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { registerHost, startTestApp, TOKENS, waitOperation, type TestApp } from '../support/app.js';
import { runCli } from '../support/cli.js';
import { getVm, storeEvents, waitUntil, type Json } from '../support/e2e.js';
import { tempDir, testRedisUrl } from '../support/env.js';
import { failEveryAttempt, type FailedRow } from '../support/failed-job.js';

describe('api: retry and discard of failed queue jobs (recorded, then carried out)', () => {
  let t: TestApp;
  let url: string;
  const workers: Runtime[] = [];
  const workerDir = tempDir('vl-queue-worker-');
  const as = (role: keyof typeof TOKENS) => ({ env: { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: TOKENS[role] } });

  before(async () => {
    t = await startTestApp({ env: { ROLE: 'api', JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '20' } });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const w of workers) await w.stop();
    await t?.close();
    workerDir.cleanup();
  });

  /** Creates a VM on a host nobody serves, then fails its define job through every attempt. */
  async function vmWithFailedJob(hostId: string): Promise<{ vmId: string; operationId: string; job: FailedRow }> {
    const res = await t.as('operator').post('/v1/vms', { name: 'stuck', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await failEveryAttempt(t, hostId, res.body.operationId as string);
    return { vmId: res.body.vmId as string, operationId: res.body.operationId as string, job };
  }

  async function serve(hostId: string): Promise<void> {
    const config = loadConfig({
      ROLE: 'worker',
      WORKER_HOSTS: hostId,
      DATA_DIR: workerDir.dir,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: t.redisPrefix,
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE_MS: '2000',
    });
    const w = await Runtime.create(config, pino({ level: 'silent' }));
    workers.push(w);
    await w.startBackground();
    await waitUntil('the worker to serve the host', async () => w.pool.workers.has(hostId));
  }

  async function hostEvents(hostId: string, type: string): Promise<Json[]> {
    return (await storeEvents(t))
      .filter((e) => e.streamId === `host-${hostId}` && e.type === type)
      .map((e) => ({ ...(e.data as Json), principal: e.metadata.principal, reason: e.metadata.reason }));
  }

  test('retry: the job runs again once a worker serves the host, and the operation succeeds', async () => {
    const hostId = await registerHost(t, { name: 'q-retry', uri: 'simulated://?latencyMs=0' });
    const { vmId, operationId, job } = await vmWithFailedJob(hostId);
    assert.equal(job.step, 'define');
    // Failed by its attempts, never found stalled: BullMQ's own count, as operators see it.
    assert.equal(job.stalled, 0);
    const counts = (await t.as('operator').get('/v1/queues')).body.items as Array<Record<string, unknown>>;
    assert.equal(counts.find((q) => q.hostId === hostId)?.stalledRedeliveries, 0);
    assert.equal(job.vmId, vmId);
    assert.equal(job.attempts, 2);
    assert.match(job.error, /results queue unreachable/);
    const pending = await t.as('viewer').get(`/v1/operations/${operationId}`);
    assert.ok(['pending', 'running'].includes(pending.body.status as string), JSON.stringify(pending.body));

    const viewer = await t.as('viewer').post(`/v1/queues/${hostId}/failed/${job.id}/retry`, {});
    assert.equal(viewer.status, 403);
    const before = await storeEvents(t);
    const unknown = await t.as('operator').post(`/v1/queues/${hostId}/failed/no-such-job/retry`, {});
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.message as string, /no-such-job is not in the failed set/);
    const noHost = await t.as('operator').post(`/v1/queues/no-such-host/failed/${job.id}/retry`, {});
    assert.equal(noHost.status, 404);
    assert.equal((await storeEvents(t)).length, before.length, 'refusals append nothing');

    const retried = await runCli(
      ['queue', 'retry', hostId, job.id, '--reason', 'redis is back', '--json'],
      as('operator'),
    );
    assert.equal(retried.code, 0, retried.stderr);
    const body = JSON.parse(retried.stdout) as Json;
    assert.equal(body.action, 'retried');
    assert.equal((body.job as Json).id, job.id);
    const [recorded] = await hostEvents(hostId, 'HostJobRetried');
    assert.equal(recorded?.jobId, job.id);
    assert.equal(recorded?.operationId, operationId);
    assert.match(String(recorded?.by), /^operator#/);
    assert.equal(recorded?.reason, 'redis is back');
    assert.equal((await t.as('operator').get(`/v1/queues/${hostId}/failed`)).body.items.length, 0);
    // Retrying again finds nothing failed: 404, nothing more recorded.
    const again = await t.as('operator').post(`/v1/queues/${hostId}/failed/${job.id}/retry`, {});
    assert.equal(again.status, 404);
    assert.equal((await hostEvents(hostId, 'HostJobRetried')).length, 1);

    await serve(hostId);
    const op = await waitOperation(t, operationId);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    assert.equal((await getVm(t, vmId)).state, 'running');
  });

  test('discard: the job is gone and its operation fails with who discarded it and why', async () => {
    const hostId = await registerHost(t, { name: 'q-discard', uri: 'simulated://?latencyMs=0' });
    const { vmId, operationId, job } = await vmWithFailedJob(hostId);
    const tooLong = await t.as('operator').delete(`/v1/queues/${hostId}/failed/${job.id}?reason=${'x'.repeat(501)}`);
    assert.equal(tooLong.status, 400);
    const gone = await runCli(['queue', 'discard', hostId, job.id, '--reason', 'host is being rebuilt'], as('admin'));
    assert.equal(gone.code, 0, gone.stderr);
    assert.equal(gone.stdout.trim(), `job ${job.id} discarded`);
    const op = await waitOperation(t, operationId);
    assert.equal(op.status, 'failed', JSON.stringify(op));
    assert.match(String(op.error ?? JSON.stringify(op)), /discarded by admin#\w+ after: results queue unreachable/);
    const vm = await getVm(t, vmId);
    assert.equal(vm.state, 'failed', JSON.stringify(vm));
    const [recorded] = await hostEvents(hostId, 'HostJobDiscarded');
    assert.equal(recorded?.jobId, job.id);
    assert.match(String(recorded?.by), /^admin#/);
    assert.equal(recorded?.principal, recorded?.by);
    assert.match(String(recorded?.reason), /host is being rebuilt/);
    assert.equal((await t.as('operator').get(`/v1/queues/${hostId}/failed`)).body.items.length, 0);
    const twice = await runCli(['queue', 'discard', hostId, job.id], as('admin'));
    assert.equal(twice.code, 3, twice.stderr);
  });
});
