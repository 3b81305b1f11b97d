/**
 * Every verb of the v1 contract end to end against the real app: hosts,
 * create (placement and explicit host), lifecycle, snapshots, migration,
 * delete, state at a past instant and ETags.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { instantBetween } from '../support/wait.js';
import {
  assertAccepted,
  assertError,
  assertHasKeys,
  createVmOp,
  getHost,
  getVm,
  OPERATION_KEYS,
  registerSimHost,
  runOk,
  VM_KEYS,
  waitAllocated,
  vmEvents,
  type Json,
} from '../support/e2e.js';

describe('e2e: lifecycle of hosts and VMs', () => {
  let t: TestApp;
  let hostA: Json;
  let hostB: Json;
  /** The VM that goes through every verb. */
  let vmId: string;
  /** The VM created on an explicit host with start: false. */
  let coldVmId: string;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('POST /v1/hosts registers a host (201 + v1 shape); GET lists and reads it', async () => {
    hostA = await registerSimHost(t, 'hv-a', 'simulated://?latencyMs=0', { vcpus: 16, memoryMiB: 16384 });
    assert.equal(hostA.name, 'hv-a');
    assert.equal(hostA.driver, 'simulated');
    assert.equal(hostA.uri, 'simulated://?latencyMs=0');
    assert.deepEqual(hostA.capacity, { vcpus: 16, memoryMiB: 16384 });
    assert.deepEqual(hostA.allocated, { vcpus: 0, memoryMiB: 0 });
    assert.equal(hostA.state, 'active');
    assert.equal(typeof hostA.id, 'string');

    // A host with a client-chosen id; it has less free memory, so placement prefers hv-a.
    const res = await t.as('admin').post('/v1/hosts', {
      id: 'hv-b',
      name: 'hv-b',
      driver: 'simulated',
      uri: 'simulated://?latencyMs=0',
      capacity: { vcpus: 16, memoryMiB: 8192 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    hostB = res.body as Json;
    assert.equal(hostB.id, 'hv-b');

    const list = await t.as('viewer').get('/v1/hosts');
    assert.equal(list.status, 200);
    assert.ok(Array.isArray(list.body.items));
    assert.deepEqual((list.body.items as Json[]).map((h) => h.id).sort(), [hostA.id, 'hv-b'].sort());
    for (const h of list.body.items as Json[])
      assertHasKeys(h, ['id', 'name', 'driver', 'uri', 'capacity', 'allocated', 'state'], 'listed host');

    const one = await getHost(t, hostA.id as string);
    for (const k of ['id', 'name', 'driver', 'uri', 'capacity', 'allocated', 'state'])
      assert.deepEqual(one[k], hostA[k], k);

    assertError(await t.as('viewer').get('/v1/hosts/no-such-host'), 404);
    // Registering the same id twice is a conflict, not a second host.
    const again = await t.as('admin').post('/v1/hosts', {
      id: 'hv-b',
      name: 'hv-b',
      driver: 'simulated',
      uri: 'simulated://',
      capacity: { vcpus: 1, memoryMiB: 64 },
    });
    assertError(again, 409);
  });

  test('POST /v1/vms without hostId: placement picks a host; pending → running → succeeded; VM running', async () => {
    const res = await t.as('operator').post('/v1/vms', { name: 'web-1', vcpus: 2, memoryMiB: 512, diskGiB: 4 });
    const acc = assertAccepted(res);
    vmId = acc.vmId;

    // The operation resource exists as soon as the 202 is out (read-your-writes).
    const early = await t.as('viewer').get(`/v1/operations/${acc.operationId}`);
    assert.equal(early.status, 200, JSON.stringify(early.body));
    assert.ok(['pending', 'running', 'succeeded'].includes(early.body.status as string), early.body.status as string);
    assert.equal(early.body.kind, 'create');

    const op = await waitOperation(t, acc.operationId);
    assertHasKeys(op, OPERATION_KEYS, 'operation');
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    assert.equal(op.id, acc.operationId);
    assert.equal(op.vmId, vmId);
    assert.equal(op.error, null);
    assert.match(op.principal as string, /^operator#/);
    assert.ok(!Number.isNaN(Date.parse(op.createdAt as string)));
    assert.ok(Date.parse(op.updatedAt as string) >= Date.parse(op.createdAt as string));

    const vm = await getVm(t, vmId);
    assertHasKeys(vm, VM_KEYS, 'vm');
    assert.equal(vm.state, 'running');
    assert.equal(vm.name, 'web-1');
    assert.equal(vm.vcpus, 2);
    assert.equal(vm.memoryMiB, 512);
    assert.equal(vm.diskGiB, 4);
    assert.deepEqual(vm.snapshots, []);
    assert.equal(vm.hostId, hostA.id, 'placement takes the host with the most free memory');

    // The operation went through "running": the worker's pickup is in the log, under this operation.
    const events = await vmEvents(t, vmId);
    const types = events.filter((e) => e.metadata.correlationId === acc.operationId).map((e) => e.type);
    assert.ok(types.includes('VmOperationRunning'), types.join(','));
    assert.deepEqual(
      types.filter((x) => x !== 'VmOperationRunning'),
      ['VmCreateRequested', 'VmPlaced', 'VmDefined', 'VmStarted'],
    );

    const host = await getHost(t, hostA.id as string);
    assert.deepEqual(host.allocated, { vcpus: 2, memoryMiB: 512 });

    const list = await t.as('viewer').get('/v1/vms');
    assert.equal(list.status, 200);
    assert.ok((list.body.items as Json[]).some((v) => v.id === vmId && v.state === 'running'));
  });

  test('POST /v1/vms with hostId and start: false: the VM is defined there and left stopped', async () => {
    const { accepted, operation } = await createVmOp(t, { name: 'cold-1', hostId: 'hv-b', start: false });
    coldVmId = accepted.vmId;
    assert.equal(operation.status, 'succeeded', JSON.stringify(operation));
    const vm = await getVm(t, coldVmId);
    assert.equal(vm.state, 'stopped');
    assert.equal(vm.hostId, 'hv-b');
    const types = (await vmEvents(t, coldVmId)).map((e) => e.type);
    assert.ok(!types.includes('VmStarted'), types.join(','));
    assert.deepEqual((await getHost(t, 'hv-b')).allocated, { vcpus: 1, memoryMiB: 64 });
  });

  test('stop (graceful), start, stop (force), start', async () => {
    const stop1 = await runOk(t, 'post', `/v1/vms/${vmId}/stop`, {});
    assert.equal(stop1.operation.kind, 'stop');
    assert.equal((await getVm(t, vmId)).state, 'stopped');

    const start1 = await runOk(t, 'post', `/v1/vms/${vmId}/start`, {});
    assert.equal(start1.operation.kind, 'start');
    assert.equal((await getVm(t, vmId)).state, 'running');

    const stop2 = await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
    assert.equal((await getVm(t, vmId)).state, 'stopped');

    const events = await vmEvents(t, vmId);
    const req = (opId: string) => events.find((e) => e.type === 'VmStopRequested' && e.metadata.correlationId === opId);
    assert.equal(req(stop1.accepted.operationId)?.data.force, false);
    assert.equal(req(stop2.accepted.operationId)?.data.force, true);

    await runOk(t, 'post', `/v1/vms/${vmId}/start`);
    assert.equal((await getVm(t, vmId)).state, 'running');
  });

  test('reboot, pause, resume', async () => {
    const reboot = await runOk(t, 'post', `/v1/vms/${vmId}/reboot`);
    assert.equal(reboot.operation.kind, 'reboot');
    assert.equal((await getVm(t, vmId)).state, 'running');

    await runOk(t, 'post', `/v1/vms/${vmId}/pause`);
    assert.equal((await getVm(t, vmId)).state, 'paused');

    await runOk(t, 'post', `/v1/vms/${vmId}/resume`);
    assert.equal((await getVm(t, vmId)).state, 'running');

    const types = (await vmEvents(t, vmId)).map((e) => e.type);
    for (const ty of ['VmRebooted', 'VmPaused', 'VmResumed'])
      assert.ok(types.includes(ty), `${ty} missing from ${types.join(',')}`);
  });

  test('snapshots: create, list, revert, delete', async () => {
    const snap = await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 'before-upgrade' });
    assert.equal(snap.operation.kind, 'snapshot');

    const list = await t.as('viewer').get(`/v1/vms/${vmId}/snapshots`);
    assert.equal(list.status, 200);
    const items = list.body.items as Json[];
    assert.equal(items.length, 1);
    assert.equal(items[0]!.name, 'before-upgrade');
    assert.equal(items[0]!.memory, true, 'a snapshot of a running VM includes memory by default');
    assert.deepEqual(
      (await getVm(t, vmId)).snapshots.map((s: Json) => s.name),
      ['before-upgrade'],
    );

    // Disk-only snapshot, then revert to the memory one: the VM comes back running.
    await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 'disk-only', memory: false });
    await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { force: true });
    const revert = await runOk(t, 'post', `/v1/vms/${vmId}/snapshots/before-upgrade/revert`);
    assert.equal(revert.operation.kind, 'revert');
    assert.equal((await getVm(t, vmId)).state, 'running', 'reverting to a memory snapshot restores the running VM');

    const del = await runOk(t, 'delete', `/v1/vms/${vmId}/snapshots/disk-only`);
    assert.equal(del.operation.kind, 'deleteSnapshot');
    const after = await t.as('viewer').get(`/v1/vms/${vmId}/snapshots`);
    assert.deepEqual(
      (after.body.items as Json[]).map((s) => s.name),
      ['before-upgrade'],
    );

    // Unknown snapshot: 404, nothing written.
    assertError(await t.as('operator').post(`/v1/vms/${vmId}/snapshots/nope/revert`, {}), 404, 'nope');
    // Same name twice: 409.
    assertError(
      await t.as('operator').post(`/v1/vms/${vmId}/snapshots`, { name: 'before-upgrade' }),
      409,
      'before-upgrade',
    );
  });

  test('migrate to another host: hostId changes, source allocation freed, target allocated', async () => {
    const before = await getVm(t, vmId);
    assert.equal(before.hostId, hostA.id);
    const srcBefore = (await getHost(t, hostA.id as string)).allocated;
    const dstBefore = (await getHost(t, 'hv-b')).allocated;

    const { operation } = await runOk(t, 'post', `/v1/vms/${vmId}/migrations`, { targetHostId: 'hv-b', live: true });
    assert.equal(operation.kind, 'migrate');

    const vm = await getVm(t, vmId);
    assert.equal(vm.hostId, 'hv-b');
    assert.equal(vm.state, 'running');
    const dst = (await getHost(t, 'hv-b')).allocated;
    assert.deepEqual(
      dst,
      { vcpus: dstBefore.vcpus + 2, memoryMiB: dstBefore.memoryMiB + 512 },
      'reserved before the move',
    );
    await waitAllocated(t, hostA.id as string, { vcpus: srcBefore.vcpus - 2, memoryMiB: srcBefore.memoryMiB - 512 });

    // Migrating to where it already is is refused.
    assertError(
      await t.as('operator').post(`/v1/vms/${vmId}/migrations`, { targetHostId: 'hv-b' }),
      400,
      'targetHostId',
    );
  });

  test('GET /v1/vms/{id}?at=<instant between two operations> returns the past state; ETag = "<revision>"', async () => {
    await runOk(t, 'post', `/v1/vms/${vmId}/stop`);
    const stopped = await t.as('viewer').get(`/v1/vms/${vmId}`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.state, 'stopped');
    assert.equal(stopped.headers.etag, `"${stopped.body.revision}"`);

    // An instant strictly after the stop's last event and strictly before the next operation's first.
    const between = await instantBetween();
    await runOk(t, 'post', `/v1/vms/${vmId}/start`);

    const now = await t.as('viewer').get(`/v1/vms/${vmId}`);
    assert.equal(now.body.state, 'running');
    assert.equal(now.headers.etag, `"${now.body.revision}"`);
    assert.ok(now.body.revision > stopped.body.revision);

    const past = await t.as('viewer').get(`/v1/vms/${vmId}?at=${encodeURIComponent(between)}`);
    assert.equal(past.status, 200, JSON.stringify(past.body));
    assert.equal(past.body.state, 'stopped');
    assert.equal(past.body.hostId, 'hv-b');
    assert.equal(past.body.revision, stopped.body.revision);
    assert.equal(past.headers.etag, `"${stopped.body.revision}"`);

    // Before the VM existed: 404.
    const ancient = await t.as('viewer').get(`/v1/vms/${vmId}?at=2000-01-01T00:00:00Z`);
    assertError(ancient, 404);
  });

  test('DELETE /v1/vms/{id}: state deleted, capacity released on its host', async () => {
    const dstBefore = (await getHost(t, 'hv-b')).allocated;
    const { operation } = await runOk(t, 'delete', `/v1/vms/${vmId}`);
    assert.equal(operation.kind, 'delete');
    assert.equal((await getVm(t, vmId)).state, 'deleted');
    await waitAllocated(t, 'hv-b', { vcpus: dstBefore.vcpus - 2, memoryMiB: dstBefore.memoryMiB - 512 });

    await runOk(t, 'delete', `/v1/vms/${coldVmId}`);
    assert.equal((await getVm(t, coldVmId)).state, 'deleted');
    await waitAllocated(t, 'hv-b', { vcpus: 0, memoryMiB: 0 });
    await waitAllocated(t, hostA.id as string, { vcpus: 0, memoryMiB: 0 });

    // A deleted VM takes no more commands.
    assertError(await t.as('operator').post(`/v1/vms/${vmId}/start`, {}), 404);
  });

  test('GET /v1/operations lists the operations, filterable by VM', async () => {
    const res = await t.as('viewer').get(`/v1/operations?vmId=${vmId}&limit=1000`);
    assert.equal(res.status, 200);
    const kinds = (res.body.items as Json[]).map((o) => o.kind);
    for (const k of [
      'create',
      'stop',
      'start',
      'reboot',
      'pause',
      'resume',
      'snapshot',
      'revert',
      'deleteSnapshot',
      'migrate',
      'delete',
    ]) {
      assert.ok(kinds.includes(k), `${k} missing from ${kinds.join(',')}`);
    }
    assert.ok((res.body.items as Json[]).every((o) => o.vmId === vmId && o.status === 'succeeded'));
  });
});
