/**
 * Host lifecycle with real workers (simulated driver, real Redis/BullMQ, SQLite):
 * unique names, PATCH, drain/restore, DELETE refused while VMs remain, evacuate
 * 10 VMs onto two hosts, migrate without a target, and what is refused up front.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kvmUsable } from '../../src/drivers/kit/kvm-probe.js';
import { hostStream } from '../../src/domain/streams.js';
import {
  createVm,
  logLength,
  registerHost,
  settledLogLength,
  startTestApp,
  waitOperation,
  type TestApp,
} from '../support/app.js';
import { assertError, countEvents, getHost, getVm, runOk, waitUntil, type Json } from '../support/e2e.js';

const small = { vcpus: 8, memoryMiB: 8192 };

describe('api: host lifecycle', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('two hosts may not share a name: 409 naming the existing host, nothing appended', async () => {
    const id = await registerHost(t, { name: 'uniq-1', capacity: small });
    const before = await settledLogLength(t);
    const res = await t
      .as('admin')
      .post('/v1/hosts', { name: 'uniq-1', driver: 'simulated', uri: 'simulated://', capacity: small });
    assertError(res, 409, 'name');
    assert.match(res.body.message, new RegExp(`host uniq-1 already exists \\(id ${id}\\)`));
    assert.equal(await logLength(t), before);
  });

  test('PATCH: labels and capacity; never below what is allocated (409 with the numbers, no event)', async () => {
    const hostId = await registerHost(t, { name: 'patch-1', capacity: small });
    await createVm(t, { hostId, vcpus: 2, memoryMiB: 2048 });
    const ok = await t
      .as('admin')
      .patch(`/v1/hosts/${hostId}`, { labels: { rack: 'r1' }, capacity: { vcpus: 4, memoryMiB: 4096 } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.labels, { rack: 'r1' });
    assert.deepEqual((await getHost(t, hostId)).capacity, { vcpus: 4, memoryMiB: 4096 });
    const before = await settledLogLength(t);
    const low = await t.as('admin').patch(`/v1/hosts/${hostId}`, { capacity: { vcpus: 1, memoryMiB: 4096 } });
    assertError(low, 409, 'capacity');
    assert.match(
      low.body.message,
      /has 2 vCPUs and 2048 MiB allocated to 1 VMs; it cannot shrink to 1 vCPUs and 4096 MiB/,
    );
    const badLabel = await t.as('admin').patch(`/v1/hosts/${hostId}`, { labels: { 'Bad Key': 'x' } });
    assertError(badLabel, 400, /labels\./);
    const empty = await t.as('admin').patch(`/v1/hosts/${hostId}`, {});
    assertError(empty, 400, 'capacity');
    const viewer = await t.as('operator').patch(`/v1/hosts/${hostId}`, { labels: {} });
    assertError(viewer, 403);
    assert.equal(await logLength(t), before);
  });

  test('drain: no new VM lands there (placement fails naming it); restore: it takes VMs again', async () => {
    const hostId = await registerHost(t, { name: 'drain-1', capacity: small });
    const drained = await t.as('admin').post(`/v1/hosts/${hostId}/drain`, {});
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    assert.equal(drained.body.state, 'draining');
    const { operation } = await createVm(t, { hostId });
    assert.equal(operation.status, 'failed');
    assert.match(String(operation.error), /is draining and takes no new VMs/);
    const restored = await t.as('admin').post(`/v1/hosts/${hostId}/restore`, {});
    assert.equal(restored.body.state, 'active');
    const again = await createVm(t, { hostId });
    assert.equal(again.operation.status, 'succeeded');
  });

  test('DELETE: refused (409 naming the VMs) while VMs remain; then HostRemoved, gone from lists, worker stops', async () => {
    const hostId = await registerHost(t, { name: 'del-1', capacity: small });
    const { vmId } = await createVm(t, { hostId });
    await waitUntil('a worker for the host', async () => t.runtime.hosts.servedHosts().includes(hostId));
    const before = await settledLogLength(t);
    const refused = await t.as('admin').delete(`/v1/hosts/${hostId}`);
    assertError(refused, 409, vmId);
    assert.equal(await logLength(t), before);
    await runOk(t, 'delete', `/v1/vms/${vmId}`);
    const removed = await t.as('admin').delete(`/v1/hosts/${hostId}?reason=decommissioned`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(await countEvents(t, (e) => e.streamId === hostStream(hostId) && e.type === 'HostRemoved'), 1);
    const list = await t.as('viewer').get('/v1/hosts');
    assert.ok(!(list.body.items as Json[]).some((h) => h.id === hostId));
    assertError(await t.as('viewer').get(`/v1/hosts/${hostId}`), 404, /was removed/);
    await waitUntil('its worker to stop', async () => !t.runtime.hosts.servedHosts().includes(hostId));
    // Its name is free again.
    await registerHost(t, { name: 'del-1', capacity: small });
  });
});

describe('api: evacuate', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('a host of 10 VMs (running and stopped) onto two others: one parent operation, {done, total}, then DELETE works', async () => {
    const a = await registerHost(t, { name: 'evac-a', capacity: { vcpus: 32, memoryMiB: 32768 } });
    const vms: string[] = [];
    for (let i = 0; i < 10; i++)
      vms.push((await createVm(t, { name: `e-${i}`, hostId: a, memoryMiB: 512, start: i % 3 !== 0 })).vmId);
    const b = await registerHost(t, { name: 'evac-b', capacity: { vcpus: 8, memoryMiB: 3072 } });
    const c = await registerHost(t, { name: 'evac-c', capacity: { vcpus: 8, memoryMiB: 3072 } });
    const res = await t.as('admin').post(`/v1/hosts/${a}/evacuate`, { reason: 'kernel upgrade' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.headers.location, `/v1/operations/${res.body.operationId}`);
    assert.equal((await getHost(t, a)).state, 'draining');
    const op = await waitOperation(t, res.body.operationId as string, 60000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    assert.equal(op.kind, 'evacuate');
    assert.equal(op.hostId, a);
    assert.deepEqual({ done: (op.progress as Json).done, total: (op.progress as Json).total }, { done: 10, total: 10 });
    const result = op.result as Json;
    assert.equal(result.moved.length, 10);
    assert.deepEqual(result.notMoved, []);
    assert.equal((op.children as string[]).length, 10);
    const where = await Promise.all(vms.map(async (id) => (await getVm(t, id)) as Json));
    for (const [i, v] of where.entries()) {
      assert.ok([b, c].includes(v.hostId as string), `VM ${i} on ${v.hostId}`);
      assert.equal(v.state, i % 3 !== 0 ? 'running' : 'stopped', `VM ${i} keeps its state`);
    }
    // 3072 MiB each: five 512 MiB VMs per host at most would be 2560 — both had to be used.
    assert.ok(where.some((v) => v.hostId === b) && where.some((v) => v.hostId === c));
    // The source host's capacity is released by the sagas after each move succeeded: its read model follows.
    await waitUntil('host a counts no VM', async () => (await getHost(t, a)).vms === 0);
    const child = await t.as('viewer').get(`/v1/operations/${(op.children as string[])[0]}`);
    assert.equal(child.body.kind, 'migrate');
    assert.equal(child.body.parentOperationId, op.id);
    const removed = await t.as('admin').delete(`/v1/hosts/${a}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
  });

  test('what cannot move is listed with why; the operation fails naming how many', async () => {
    const a = await registerHost(t, { name: 'evac2-a', capacity: { vcpus: 16, memoryMiB: 16384 } });
    const big = (await createVm(t, { name: 'big', hostId: a, memoryMiB: 4096 })).vmId;
    const fits = (await createVm(t, { name: 'fits', hostId: a, memoryMiB: 256 })).vmId;
    const withMem = (await createVm(t, { name: 'memsnap', hostId: a, memoryMiB: 256 })).vmId;
    await runOk(t, 'post', `/v1/vms/${withMem}/snapshots`, { name: 'm1', memory: true });
    await registerHost(t, { name: 'evac2-b', capacity: { vcpus: 4, memoryMiB: 1024 } });
    const res = await t.as('admin').post(`/v1/hosts/${a}/evacuate`, {});
    const op = await waitOperation(t, res.body.operationId as string, 60000);
    assert.equal(op.status, 'failed', JSON.stringify(op));
    assert.match(String(op.error), /1 of 3 VMs could not move/);
    const notMoved = new Map(((op.result as Json).notMoved as Json[]).map((n) => [n.vmId, n.reason]));
    assert.match(
      String(notMoved.get(big)),
      /no host can take 1 vCPUs and 4096 MiB: .*evac2-b \([^)]*\) has 4 vCPUs and 1024 MiB free/,
    );
    // The simulated driver carries internal snapshots along (qemu's disk copy does not: see qemu-resize.test.ts).
    const moved = ((op.result as Json).moved as Json[]).map((m) => m.vmId).sort();
    assert.deepEqual(moved, [fits, withMem].sort());
  });

  test('migrate without targetHostId: placement picks an active host of the same driver with room', async () => {
    const a = await registerHost(t, { name: 'pick-a', capacity: small });
    await registerHost(t, { name: 'pick-b', capacity: small });
    const d = await registerHost(t, { name: 'pick-d', capacity: { vcpus: 64, memoryMiB: 65536 } });
    await t.as('admin').post(`/v1/hosts/${d}/drain`, {});
    const { vmId } = await createVm(t, { hostId: a });
    const { operation } = await runOk(t, 'post', `/v1/vms/${vmId}/migrations`, { live: true });
    assert.equal(operation.status, 'succeeded');
    const moved = await getVm(t, vmId);
    assert.notEqual(moved.hostId, a);
    assert.notEqual(moved.hostId, d, 'never onto a draining host');
  });
});

describe('api: refused up front (4xx, no event)', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
    await registerHost(t, { name: 'up-1', capacity: small });
  });
  after(async () => {
    await t?.close();
  });

  test('a VM no registered host could ever hold → 422 naming the capacity; a full fleet stays a placement failure', async () => {
    const before = await settledLogLength(t);
    const res = await t.as('operator').post('/v1/vms', { name: 'huge', vcpus: 64, memoryMiB: 1024, diskGiB: 1 });
    assertError(res, 422, /could ever hold 64 vCPUs and 1024 MiB \(capacity: up-1 \(.*\): 8 vCPUs, 8192 MiB\)/);
    assert.equal(await logLength(t), before);
    const first = await createVm(t, { name: 'fill', vcpus: 8, memoryMiB: 8192 });
    assert.equal(first.operation.status, 'succeeded');
    const full = await createVm(t, { name: 'next', vcpus: 1, memoryMiB: 64 });
    assert.equal(full.operation.status, 'failed');
    assert.match(String(full.operation.error), /no host can take/);
  });

  test('a host registered right after a create was refused 422 holds the same VM at once (its check does not go by the hosts it saw)', async () => {
    const ask = { name: 'big', vcpus: 48, memoryMiB: 1024, diskGiB: 1 };
    assertError(await t.as('operator').post('/v1/vms', ask), 422, /could ever hold 48 vCPUs/);
    const big = await registerHost(t, { name: 'up-big', capacity: { vcpus: 64, memoryMiB: 8192 } });
    // The host index is a read model: the create's fresh check reads it once it lists the new host.
    await waitUntil('the host index lists up-big', async () => {
      const res = await t.as('viewer').get('/v1/hosts');
      return (res.body as { items?: { id: string }[] }).items?.some((h) => h.id === big);
    });
    const vm = await createVm(t, ask);
    assert.equal(vm.operation.status, 'succeeded');
  });

  test('qemu accel=kvm: refused at registration on a machine without usable KVM', async () => {
    const res = await t.as('admin').post('/v1/hosts', {
      name: 'kvm-1',
      driver: 'qemu',
      uri: 'qemu:///system?accel=kvm',
      capacity: small,
    });
    if (kvmUsable()) assert.equal(res.status, 201, JSON.stringify(res.body));
    else assertError(res, 400, /accel=kvm: this machine has no usable KVM/);
  });

  test('libvirt domainType=kvm on a local libvirtd: refused at registration without usable KVM; a remote one is not probed', async () => {
    const before = await settledLogLength(t);
    const res = await t.as('admin').post('/v1/hosts', {
      name: 'lv-kvm-1',
      driver: 'libvirt',
      uri: 'qemu:///system?domainType=kvm',
      capacity: small,
    });
    if (kvmUsable()) assert.equal(res.status, 201, JSON.stringify(res.body));
    else {
      assertError(res, 400, /domainType=kvm: this machine has no usable KVM/);
      assert.equal(await logLength(t), before);
    }
    const remote = await t.as('admin').post('/v1/hosts', {
      name: 'lv-kvm-remote',
      driver: 'libvirt',
      uri: 'qemu+tcp://10.0.0.2/system?domainType=kvm',
      capacity: small,
    });
    assert.equal(remote.status, 201, JSON.stringify(remote.body));
  });
});
