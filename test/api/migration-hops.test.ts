/**
 * A migration's next job is queued by the worker that ran the step before it: the target's worker
 * queues the source's migrate once the target listens, the source's worker the target's
 * finishIncoming at the hand-off. Each carries the steps before it as `prior`; the saga queues the
 * same job ids once the steps are recorded, which BullMQ ignores: every step runs once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from 'bullmq';
import { finishJobId, hostQueueName, migrateJobId, type HostJobData } from '../../src/application/jobs.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createVmOp, getHost, registerSimHost, runOk, storeEvents, waitAllocated } from '../support/e2e.js';

describe('e2e: a migration’s jobs queued worker to worker', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  const jobsOf = async (hostId: string, operationId: string, step: string): Promise<Array<Job<HostJobData>>> => {
    const queue = t.runtime.hub.queue(hostQueueName(hostId));
    const jobs = (await queue.getJobs(['completed', 'failed', 'waiting', 'active', 'delayed'], 0, 1000)) as Array<
      Job<HostJobData> | undefined
    >;
    return jobs.filter((j): j is Job<HostJobData> => j?.data.operationId === operationId && j.data.step === step);
  };

  test('live migration: the migrate and the finish each run once, carrying the steps before them; the log in order', async () => {
    const src = (await registerSimHost(t, 'hv-src')).id as string;
    const dst = (await registerSimHost(t, 'hv-dst')).id as string;
    const { operation: created } = await createVmOp(t, { name: 'mover', hostId: src, memoryMiB: 128 });
    assert.equal(created.status, 'succeeded', JSON.stringify(created));
    const vmId = created.vmId as string;
    const srcBefore = (await getHost(t, src)).allocated as { vcpus: number; memoryMiB: number };

    const { operation } = await runOk(t, 'post', `/v1/vms/${vmId}/migrations`, { targetHostId: dst, live: true });
    const op = operation.id as string;
    // The source's release is the saga's pass over VmMigrated: every earlier pass (each queueing its job again) is done.
    await waitAllocated(t, src, { vcpus: srcBefore.vcpus - 1, memoryMiB: srcBefore.memoryMiB - 128 });

    const events = (await storeEvents(t)).filter((e) => e.streamId === `vm-${vmId}`);
    const migration = events.filter((e) => (e.data as { operationId?: string }).operationId === op).map((e) => e.type);
    assert.deepEqual(
      migration.filter((type) => type !== 'VmOperationRunning' && type !== 'VmMigrationProgressed'),
      ['VmMigrationRequested', 'VmMigrationTargetPrepared', 'VmMigrationHandedOff', 'VmMigrated'],
    );
    const prepared = events.find((e) => e.type === 'VmMigrationTargetPrepared');
    const endpoint = (prepared?.data as { endpoint: unknown }).endpoint;

    const migrates = await jobsOf(src, op, 'migrate');
    assert.deepEqual(
      migrates.map((j) => j.id),
      [migrateJobId(op)],
      'one migrate job, under the id both the target and the saga use',
    );
    const migrate = migrates[0]!.data;
    assert.deepEqual(
      migrate.prior,
      { step: 'prepareIncoming', output: { endpoint, migrateQueued: true } },
      'queued by the target, with its result',
    );
    assert.equal(migrate.step === 'migrate' && migrate.args.targetHostId, dst);
    assert.deepEqual(migrate.step === 'migrate' && migrate.args.endpoint, endpoint);

    const finishes = await jobsOf(dst, op, 'finishIncoming');
    assert.deepEqual(
      finishes.map((j) => j.id),
      [finishJobId(op)],
    );
    assert.deepEqual(finishes[0]!.data.prior, [
      { step: 'prepareIncoming', output: { endpoint, migrateQueued: true } },
      { step: 'migrate', output: {} },
    ]);
    assert.equal((await jobsOf(dst, op, 'prepareIncoming')).length, 1);

    // GET /why follows the named job ids back to the request.
    const migrated = events.filter((e) => e.type === 'VmMigrated').at(-1)!;
    const res = await t.as('auditor').get(`/v1/vms/${vmId}/why?revision=${migrated.revision}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const why = res.body as { causation: Array<{ type: string }>; origin: { kind: string; operationId?: string } };
    assert.deepEqual(
      why.causation.map((c) => c.type),
      ['VmMigrationHandedOff', 'VmMigrationTargetPrepared', 'VmMigrationRequested'],
    );
    assert.deepEqual([why.origin.kind, why.origin.operationId], ['request', op]);
  });
});
