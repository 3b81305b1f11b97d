import assert from 'node:assert/strict';
import { waitUntil } from '../support/e2e.js';
import { after, before, describe, test } from 'node:test';
import { SimulatedDriver } from '../../src/drivers/simulated/simulated.driver.js';
import { hostQueueName } from '../../src/application/jobs.js';
import { killSimulatedFromOutside } from '../drivers/simulated/kill-from-outside.js';
import { createVm, registerHost, startTestApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

describe('reconciliation (simulated driver; the qemu suite kills real processes)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({
      env: { RECONCILE_INTERVAL_MS: '1000', RECONCILE_STUCK_MS: '500', JOB_TIMEOUT_MS: '600000' },
    });
  });
  after(async () => t.close());

  test('a VM whose domain dies outside the service becomes VmCrashed and reads crashed with the reason until started', async () => {
    const hostId = await registerHost(t, { name: 'rc1' });
    const { vmId } = await createVm(t, { hostId });
    const driver = await waitUntil('worker', async () => t.runtime.pool.workers.get(hostId)?.driver);
    assert.ok(driver instanceof SimulatedDriver);
    await killSimulatedFromOutside(driver.host, vmId);
    const vm = await waitUntil('VM crashed', async () => {
      const r = await t.as('viewer').get(`/v1/vms/${vmId}`);
      return r.body.state === 'crashed' ? r.body : undefined;
    });
    assert.equal(vm.pendingOperation, null);
    assert.equal(vm.crash.previousState, 'running');
    assert.equal(typeof vm.crash.reason, 'string');
    const events = await t.as('auditor').get(`/v1/vms/${vmId}/events`);
    const crashed = events.body.items.filter((e: { type: string }) => e.type === 'VmCrashed');
    assert.equal(crashed.length, 1);
    assert.equal(crashed[0].data.previousState, 'running');
    assert.match(crashed[0].metadata.principal, /^system:reconciler@/);
    // The next command works on the reconciled state.
    const start = await t.as('operator').post(`/v1/vms/${vmId}/start`);
    assert.equal(start.status, 202);
    const running = await waitUntil('VM running again', async () => {
      const r = await t.as('viewer').get(`/v1/vms/${vmId}`);
      return r.body.state === 'running' ? r.body : undefined;
    });
    assert.equal(running.crash, null, 'started again: the crash is history');
  });

  test('a pending operation whose job vanished is closed with the real state; one with a live job is left alone', async () => {
    const hostId = await registerHost(t, { name: 'rc2', uri: 'simulated://?hangVerbs=reboot' });
    const { vmId } = await createVm(t, { hostId });
    // Counts this host's finished sweeps (the pool calls the reconciler's sweep() each interval).
    const reconciler = await waitFor(() => t.runtime.pool.reconcilers.get(hostId), {
      what: `the reconciler of ${hostId}`,
    });
    let sweeps = 0;
    const sweep = reconciler.sweep.bind(reconciler);
    reconciler.sweep = async (...a) => {
      try {
        return await sweep(...a);
      } finally {
        sweeps++;
      }
    };
    const res = await t.as('operator').post(`/v1/vms/${vmId}/reboot`);
    assert.equal(res.status, 202);
    // The job hangs but is alive: several sweeps pass without touching the operation (two that
    // both began after the job was queued would be enough to close an operation without a job).
    const from = sweeps;
    await waitFor(() => sweeps >= from + 3, { what: 'three reconciliation sweeps', timeoutMs: 60_000 });
    const still = await t.as('viewer').get(`/v1/operations/${res.body.operationId}`);
    assert.ok(['pending', 'running'].includes(still.body.status), JSON.stringify(still.body));
    // Lose the queue (as a Redis wipe would): no job will ever finish this operation.
    await t.runtime.hub.queue(hostQueueName(hostId)).obliterate({ force: true });
    const op = await waitUntil('operation closed', async () => {
      const r = await t.as('viewer').get(`/v1/operations/${res.body.operationId}`);
      return r.body.status === 'failed' ? r.body : undefined;
    });
    assert.match(op.error, /abandoned/);
    const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
    assert.equal(vm.body.state, 'running');
    assert.equal(vm.body.pendingOperation, null);
  });
});
