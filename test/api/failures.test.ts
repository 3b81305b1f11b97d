/**
 * Driver failures, hangs and missing capabilities: operations fail with the
 * driver's reason after the configured attempts, exactly once, and leave the
 * VM in a state the next command can work from.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from 'bullmq';
import { hostQueueName, type HostJobData } from '../../src/application/jobs.js';
import { logLength, settledLogLength, startTestApp, type TestApp } from '../support/app.js';
import {
  assertAccepted,
  assertError,
  createVmOp,
  getHost,
  getVm,
  registerSimHost,
  runOk,
  runOp,
  storeEvents,
  vmEvents,
  waitAllocated,
} from '../support/e2e.js';

const ATTEMPTS = 2;

describe('e2e: driver failures', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ env: { JOB_ATTEMPTS: String(ATTEMPTS), JOB_TIMEOUT_MS: '1500' } });
  });
  after(async () => {
    await t?.close();
  });

  const failedEvents = async (operationId: string) =>
    (await storeEvents(t)).filter((e) => e.type === 'VmOperationFailed' && e.data.operationId === operationId);

  /** The host job that ran `step` for an operation (BullMQ keeps finished jobs). */
  async function jobOf(hostId: string, operationId: string, step: string): Promise<Job<HostJobData>> {
    const jobs = (await t.runtime.hub.queue(hostQueueName(hostId)).getJobs(['completed', 'failed'], 0, 1000)) as Array<
      Job<HostJobData>
    >;
    const job = jobs.find((j) => j?.data.operationId === operationId && j.data.step === step);
    assert.ok(job, `no ${step} job for ${operationId}`);
    return job;
  }

  test('failVerbs=start: the create fails with the driver message after the configured attempts; VM failed, capacity released', async () => {
    const host = await registerSimHost(t, 'hv-fail-start', 'simulated://?latencyMs=0&failVerbs=start', {
      vcpus: 8,
      memoryMiB: 8192,
    });
    const hostId = host.id as string;
    const { accepted, operation } = await createVmOp(t, { name: 'doomed', hostId, vcpus: 2, memoryMiB: 256 });

    assert.equal(operation.status, 'failed', JSON.stringify(operation));
    assert.match(operation.error as string, /simulated failure: start/);
    // A create that should run is one job: define, then start (the start's failure retries both).
    const job = await jobOf(hostId, accepted.operationId, 'define');
    assert.deepEqual(job.data.args, { thenStart: true });
    assert.equal(job.attemptsMade, ATTEMPTS, 'the start was tried JOB_ATTEMPTS times');

    const vm = await getVm(t, accepted.vmId);
    assert.equal(vm.state, 'failed');
    assert.equal(vm.pendingOperation, null);

    const failed = await failedEvents(accepted.operationId);
    assert.equal(failed.length, 1, 'exactly one VmOperationFailed');
    assert.equal(failed[0]!.data.step, 'start');
    assert.equal(failed[0]!.data.kind, 'create');
    const types = (await vmEvents(t, accepted.vmId)).map((e) => e.type);
    assert.ok(!types.includes('VmStarted'), types.join(','));
    // As with two jobs: the define is recorded, then the create fails at its start.
    assert.ok(
      types.includes('VmDefined') && types.indexOf('VmDefined') < types.indexOf('VmOperationFailed'),
      types.join(','),
    );

    // The reservation was given back (on the host's own stream too).
    await waitAllocated(t, hostId, { vcpus: 0, memoryMiB: 0 });
    const hostEvents = (await storeEvents(t)).filter((e) => e.streamId === `host-${hostId}`).map((e) => e.type);
    assert.deepEqual(hostEvents, ['HostRegistered', 'HostCapacityReserved', 'HostCapacityReleased']);

    // A failed VM can still be deleted.
    const del = await runOk(t, 'delete', `/v1/vms/${accepted.vmId}`);
    assert.equal(del.operation.status, 'succeeded');
    assert.equal((await getVm(t, accepted.vmId)).state, 'deleted');
  });

  test('failVerbs=pause: the pause fails once with the driver message; the VM stays running and takes the next command', async () => {
    const host = await registerSimHost(t, 'hv-fail-pause', 'simulated://?latencyMs=0&failVerbs=pause');
    const hostId = host.id as string;
    const created = await createVmOp(t, { name: 'stubborn', hostId });
    assert.equal(created.operation.status, 'succeeded');
    const vmId = created.accepted.vmId;

    const { accepted, operation } = await runOp(t, 'post', `/v1/vms/${vmId}/pause`);
    assert.equal(operation.status, 'failed');
    assert.equal(operation.kind, 'pause');
    assert.match(operation.error as string, /simulated failure: pause/);
    assert.equal((await jobOf(hostId, accepted.operationId, 'pause')).attemptsMade, ATTEMPTS);
    assert.equal((await failedEvents(accepted.operationId)).length, 1);

    const vm = await getVm(t, vmId);
    assert.equal(vm.state, 'running');
    assert.equal(vm.pendingOperation, null);
    assert.deepEqual(
      (await getHost(t, hostId)).allocated,
      { vcpus: 1, memoryMiB: 64 },
      'a failed pause releases nothing',
    );

    await runOk(t, 'post', `/v1/vms/${vmId}/stop`);
    assert.equal((await getVm(t, vmId)).state, 'stopped');
  });

  test('hangVerbs=reboot with JOB_TIMEOUT_MS=1500: the reboot fails with a timeout; the next command (stop) works', async () => {
    const host = await registerSimHost(t, 'hv-hang-reboot', 'simulated://?latencyMs=0&hangVerbs=reboot');
    const created = await createVmOp(t, { name: 'frozen', hostId: host.id });
    assert.equal(created.operation.status, 'succeeded');
    const vmId = created.accepted.vmId;

    const { accepted, operation } = await runOp(t, 'post', `/v1/vms/${vmId}/reboot`);
    assert.equal(operation.status, 'failed', JSON.stringify(operation));
    assert.match(operation.error as string, /1500 ms|time(d)? ?out|aborted/i, operation.error as string);
    assert.equal((await failedEvents(accepted.operationId)).length, 1);
    assert.equal((await getVm(t, vmId)).state, 'running');

    const stop = await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
    assert.equal(stop.operation.status, 'succeeded');
    assert.equal((await getVm(t, vmId)).state, 'stopped');
  });

  test('a capability the host lacks (pause=false): pause is refused with 422 and appends nothing', async () => {
    const host = await registerSimHost(t, 'hv-no-pause', 'simulated://?latencyMs=0&pause=false');
    assert.equal(host.capabilities?.pause, false);
    const created = await createVmOp(t, { name: 'unpausable', hostId: host.id });
    assert.equal(created.operation.status, 'succeeded');
    const vmId = created.accepted.vmId;
    const revision = (await getVm(t, vmId)).revision;

    const before = await settledLogLength(t);
    const res = await t.as('operator').post(`/v1/vms/${vmId}/pause`, {});
    assertError(res, 422, /pause/);
    assert.equal(await logLength(t), before, 'nothing appended');
    const vm = await getVm(t, vmId);
    assert.equal(vm.state, 'running');
    assert.equal(vm.revision, revision);

    // What the driver can do still works.
    assertAccepted(await t.as('operator').post(`/v1/vms/${vmId}/reboot`, {}), vmId);
  });
});
