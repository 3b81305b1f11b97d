/**
 * Decisions explain themselves (issue 13, point 6): placement records every
 * candidate host and why each was refused; a reconciler's decision records the
 * observation it acted on; GET /v1/vms/{id}/why shows, for any state change,
 * the command, principal, reason, causation chain and evidence.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SimulatedDriver } from '../../src/drivers/simulated/simulated.driver.js';
import { killSimulatedFromOutside } from '../drivers/simulated/kill-from-outside.js';
import { logLength, settledLogLength, startTestApp, type TestApp } from '../support/app.js';
import { assertError, createVmOp, registerSimHost, runOk, vmEvents, waitUntil, type Json } from '../support/e2e.js';

const UNKNOWN_VM = '00000000-0000-4000-8000-000000000000';

describe('e2e: decisions explain themselves', () => {
  let t: TestApp;
  let full1: string;
  let full2: string;
  let roomy: string;
  let vmId: string;
  let createOp: string;

  const why = async (id: string, revision?: number) => {
    const res = await t.as('auditor').get(`/v1/vms/${id}/why${revision === undefined ? '' : `?revision=${revision}`}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as Json;
  };
  const revisionOf = async (id: string, type: string) => {
    const e = (await vmEvents(t, id)).filter((x) => x.type === type).at(-1);
    assert.ok(e, `VM ${id} has a ${type}`);
    return e.revision as number;
  };

  before(async () => {
    t = await startTestApp({ env: { RECONCILE_INTERVAL_MS: '1000', RECONCILE_STUCK_MS: '500' } });
    const small = { vcpus: 1, memoryMiB: 128 };
    full1 = (await registerSimHost(t, 'why-full1', undefined, small)).id as string;
    full2 = (await registerSimHost(t, 'why-full2', undefined, small)).id as string;
    roomy = (await registerSimHost(t, 'why-roomy', undefined, { vcpus: 8, memoryMiB: 4096 })).id as string;
    // Fill the two small hosts, each with a VM pinned to it.
    for (const hostId of [full1, full2]) {
      const r = await createVmOp(t, { name: 'filler', memoryMiB: 128, hostId });
      assert.equal(r.operation.status, 'succeeded', JSON.stringify(r.operation));
    }
    const created = await createVmOp(t, { name: 'why-vm', memoryMiB: 64, reason: 'ticket 7' });
    assert.equal(created.operation.status, 'succeeded', JSON.stringify(created.operation));
    vmId = created.accepted.vmId;
    createOp = created.accepted.operationId;
  });
  after(async () => t?.close());

  test('placement with two full hosts: VmPlaced records all three candidates, the chosen one and why the others were refused', async () => {
    const w = await why(vmId, await revisionOf(vmId, 'VmPlaced'));
    assert.equal(w.event.type, 'VmPlaced');
    assert.equal(w.event.data.hostId, roomy);
    const byHost = Object.fromEntries((w.evidence.candidates as Json[]).map((c) => [c.hostId, c]));
    assert.deepEqual(Object.keys(byHost).sort(), [full1, full2, roomy].sort());
    assert.equal(byHost[roomy].verdict, 'chosen');
    for (const h of [full1, full2]) {
      assert.equal(byHost[h].verdict, 'refused');
      assert.equal(byHost[h].reason, 'capacity');
      assert.match(byHost[h].detail, /has 0 vCPUs and 0 MiB free; the VM needs 1 vCPUs and 64 MiB/);
    }
    // Decided by the placement saga on behalf of the one who asked: the chain leads back to the request.
    assert.equal(w.command.type, 'PlaceVm');
    assert.equal(w.command.args.hostId, roomy);
    assert.deepEqual(
      (w.causation as Json[]).map((c) => c.type),
      ['VmCreateRequested'],
    );
    assert.equal(w.origin.kind, 'request');
    assert.equal(w.origin.operationId, createOp);
    assert.equal(w.origin.command.type, 'CreateVm');
    assert.equal(w.origin.command.args.spec.name, 'why-vm');
    assert.equal(w.automatic, false);
    // The saga's own event carries no reason; the request it acted for does.
    assert.equal(w.reason, null);
    assert.equal(w.origin.reason, 'ticket 7');
  });

  test('a placement nothing can take: the failure records every host refused, by reason', async () => {
    // 2048 MiB fits the roomy host's capacity (so it is not refused up front) but that host
    // drains: the full ones refuse on capacity, the roomy one as draining.
    assert.equal((await t.as('admin').post(`/v1/hosts/${roomy}/drain`, {})).status, 200);
    const failed = await createVmOp(t, { name: 'too-big', memoryMiB: 2048 });
    assert.equal((await t.as('admin').post(`/v1/hosts/${roomy}/restore`, {})).status, 200);
    assert.equal(failed.operation.status, 'failed');
    const w = await why(failed.accepted.vmId);
    assert.equal(w.event.type, 'VmOperationFailed');
    assert.deepEqual(
      (w.evidence.candidates as Json[]).map((c) => [c.hostId, c.verdict, c.reason]).sort(),
      [
        [full1, 'refused', 'capacity'],
        [full2, 'refused', 'capacity'],
        [roomy, 'refused', 'draining'],
      ].sort(),
    );
  });

  test('a create’s results lead back to the request through its placement (the define job has a named id)', async () => {
    const started = await why(vmId, await revisionOf(vmId, 'VmStarted'));
    assert.deepEqual(
      (started.causation as Json[]).map((c) => c.type),
      ['VmPlaced', 'VmCreateRequested'],
    );
    assert.equal(started.origin.kind, 'request');
    assert.equal(started.origin.operationId, createOp);
  });

  test('a user command: the command, its principal and reason; the result event leads back to it', async () => {
    const stop = await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { reason: 'maintenance window', force: true });
    const requested = await why(vmId, await revisionOf(vmId, 'VmStopRequested'));
    assert.equal(requested.command.type, 'StopVm');
    assert.equal(requested.command.args.force, true);
    assert.equal(requested.reason, 'maintenance window');
    assert.equal(requested.origin.kind, 'request');
    assert.equal(requested.origin.operationId, stop.accepted.operationId);
    assert.deepEqual(requested.causation, [], 'the request itself');
    assert.equal(requested.evidence, null);
    const principal = requested.principal as string;
    assert.equal(stop.operation.principal, principal);

    const stopped = await why(vmId, await revisionOf(vmId, 'VmStopped'));
    assert.equal(stopped.command.type, 'RecordStepSucceeded');
    assert.ok(
      (stopped.causation as Json[]).some((c) => c.type === 'VmStopRequested'),
      JSON.stringify(stopped.causation),
    );
    assert.equal(stopped.origin.operationId, stop.accepted.operationId);
    assert.equal(stopped.principal, principal);
    await runOk(t, 'post', `/v1/vms/${vmId}/start`);
  });

  test('a reconciler decision (the VM died behind the driver): automatic, with the observation it acted on', async () => {
    const driver = await waitUntil('worker', async () => t.runtime.pool.workers.get(roomy)?.driver);
    assert.ok(driver instanceof SimulatedDriver);
    await killSimulatedFromOutside(driver.host, vmId);
    await waitUntil('VmCrashed', async () => (await vmEvents(t, vmId)).some((e) => e.type === 'VmCrashed'));
    const w = await why(vmId, await revisionOf(vmId, 'VmCrashed'));
    assert.equal(w.automatic, true);
    assert.match(w.principal, /^system:reconciler@/);
    assert.equal(w.command.type, 'ReportObservedState');
    assert.equal(w.origin.kind, 'observation');
    assert.equal(w.evidence.kind, 'observation');
    assert.equal(w.evidence.hostId, roomy);
    assert.equal(w.evidence.observed, 'crashed');
    assert.equal(w.evidence.detail, 'killed from outside the driver');
    assert.equal(w.evidence.jobActive, false);
    assert.equal(typeof w.evidence.atRevision, 'number');
  });

  test('bad revision → 400 naming it; past the head or an unknown VM → 404; viewers → 403; nothing appended', async () => {
    const n = await settledLogLength(t);
    for (const q of ['revision=-1', 'revision=x', 'revision=1.5', 'revision=', 'revision=1&revision=2']) {
      const res = await t.as('auditor').get(`/v1/vms/${vmId}/why?${q}`);
      assertError(res, 400, 'revision');
    }
    assertError(await t.as('auditor').get(`/v1/vms/${vmId}/why?revision=100000`), 404, /has no revision 100000/);
    assertError(await t.as('auditor').get(`/v1/vms/${UNKNOWN_VM}/why`), 404, 'not found');
    assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}/why`)).status, 403);
    assert.equal((await t.as('operator').get(`/v1/vms/${vmId}/why`)).status, 200);
    assert.equal((await t.http().get(`/v1/vms/${vmId}/why`)).status, 401);
    assert.equal(await logLength(t), n);
  });
});
