/**
 * Live resize through the API on simulated hosts (real BullMQ workers, Redis, the event store):
 * the ceilings a create sets (and their validation), every refusal decided up front with nothing
 * appended (past a ceiling, a host whose driver declares no hot resize, a stale ETag), and a
 * driver failure, which leaves the VM running at its old size with its reservation put back.
 * The real-driver proof is test/drivers/container/container-resize-api.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { logLength, settledLogLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import {
  assertAccepted,
  assertError,
  createVmOp,
  getVm,
  registerSimHost,
  vmEvents,
  waitAllocated,
} from '../support/e2e.js';

describe('PATCH /v1/vms/{id} on a running VM: live resize', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  const etagOf = async (vmId: string) => (await t.as('viewer').get(`/v1/vms/${vmId}`)).headers.etag as string;
  const patch = async (vmId: string, body: object) =>
    t
      .as('operator')
      .patch(`/v1/vms/${vmId}`, body)
      .set('If-Match', await etagOf(vmId));

  test('create: ceilings given are kept, absent ones default to 4 × the size; below the size or past 64 → 400 naming the field', async () => {
    const hostId = (await registerSimHost(t, 'rsz-ceil')).id as string;
    const body = { name: 'c', vcpus: 2, memoryMiB: 128, diskGiB: 1, hostId };
    const before = await settledLogLength(t);
    assertError(await t.as('operator').post('/v1/vms', { ...body, maxVcpus: 1 }), 400, 'maxVcpus');
    assertError(await t.as('operator').post('/v1/vms', { ...body, maxVcpus: 65 }), 400, 'maxVcpus');
    assertError(await t.as('operator').post('/v1/vms', { ...body, maxMemoryMiB: 64 }), 400, 'maxMemoryMiB');
    assert.equal(await logLength(t), before, 'nothing appended');
    const given = await createVmOp(t, { ...body, maxVcpus: 3, maxMemoryMiB: 200 });
    const vm = await getVm(t, given.accepted.vmId);
    assert.deepEqual([vm.maxVcpus, vm.maxMemoryMiB], [3, 200]);
    const defaulted = await getVm(t, (await createVmOp(t, { ...body, vcpus: 20 })).accepted.vmId);
    assert.deepEqual([defaulted.maxVcpus, defaulted.maxMemoryMiB], [64, 512], 'min(64, 4 × 20) and 4 × 128');
  });

  test('within the ceilings: 202, a resize operation, the new size in the view and on the host', async () => {
    const hostId = (await registerSimHost(t, 'rsz-ok', 'simulated://?latencyMs=0', { vcpus: 8, memoryMiB: 1024 }))
      .id as string;
    const { vmId } = (await createVmOp(t, { name: 'ok', vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId })).accepted;
    const accepted = assertAccepted(await patch(vmId, { vcpus: 3, memoryMiB: 256, diskGiB: 4 }), vmId);
    const op = await waitOperation(t, accepted.operationId);
    assert.deepEqual([op.kind, op.status, op.error], ['resize', 'succeeded', null]);
    const vm = await getVm(t, vmId);
    assert.deepEqual([vm.state, vm.vcpus, vm.memoryMiB, vm.diskGiB], ['running', 3, 256, 4]);
    await waitAllocated(t, hostId, { vcpus: 3, memoryMiB: 256 });
    const types = (await vmEvents(t, vmId)).map((e) => e.type);
    assert.deepEqual(types.slice(-3), ['VmResizeStarted', 'VmOperationRunning', 'VmResized']);
  });

  test('refused up front, nothing appended: past a ceiling (409 naming it), no hot resize on the host (422), stale ETag (412)', async () => {
    const hostId = (await registerSimHost(t, 'rsz-no')).id as string;
    const cold = (await registerSimHost(t, 'rsz-cold', 'simulated://?latencyMs=0&hotResize=false')).id as string;
    const vm = (await createVmOp(t, { name: 'no', vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId, maxVcpus: 2 })).accepted
      .vmId;
    const coldVm = (await createVmOp(t, { name: 'cold', vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId: cold })).accepted
      .vmId;
    const before = await settledLogLength(t);
    const past = await patch(vm, { vcpus: 3 });
    assertError(past, 409, /^vcpus: 3 is above the VM's ceiling maxVcpus 2.*stop the VM to go beyond it/);
    assertError(await patch(vm, { memoryMiB: 513 }), 409, /memoryMiB: 513 is above the VM's ceiling maxMemoryMiB 512/);
    assertError(await patch(coldVm, { vcpus: 2 }), 422, /cannot resize a running VM: stop the VM/);
    const stale = await t.as('operator').patch(`/v1/vms/${vm}`, { vcpus: 2 }).set('If-Match', '"1"');
    assertError(stale, 412);
    assert.equal(await logLength(t), before, 'nothing appended');
    await waitAllocated(t, hostId, { vcpus: 1, memoryMiB: 128 });
  });

  test('the driver fails: the operation fails with its reason, the VM runs at its old size, the reservation goes back', async () => {
    const uri = 'simulated://?latencyMs=0&failVerbs=resizeLive';
    const hostId = (await registerSimHost(t, 'rsz-fail', uri, { vcpus: 8, memoryMiB: 1024 })).id as string;
    const { vmId } = (await createVmOp(t, { name: 'f', vcpus: 2, memoryMiB: 256, diskGiB: 1, hostId })).accepted;
    const accepted = assertAccepted(await patch(vmId, { vcpus: 1, memoryMiB: 512 }), vmId);
    const op = await waitOperation(t, accepted.operationId);
    assert.equal(op.status, 'failed', JSON.stringify(op));
    assert.match(String(op.error), /resizeLive/);
    const vm = await getVm(t, vmId);
    assert.deepEqual([vm.state, vm.vcpus, vm.memoryMiB, vm.pendingOperation], ['running', 2, 256, null]);
    await waitAllocated(t, hostId, { vcpus: 2, memoryMiB: 256 });
  });
});
