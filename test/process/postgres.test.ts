/**
 * The lifecycle smoke against the PostgreSQL event store (TEST_POSTGRES_URL),
 * a fresh schema per run, dropped afterwards.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GENESIS_HASH } from '../../src/eventstore/hash-chain.js';
import { logLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { testPostgresUrl } from '../support/env.js';
import { dropPostgresSchema } from '../support/store-kinds.js';
import {
  assertAccepted,
  createVmOp,
  getHost,
  getVm,
  registerSimHost,
  runOk,
  storeEvents,
  vmEvents,
  waitAllocated,
  waitSettled,
  type Json,
} from '../support/e2e.js';

const url = testPostgresUrl();

describe('e2e: lifecycle on PostgreSQL', { skip: url ? false : 'TEST_POSTGRES_URL not set' }, () => {
  let t: TestApp;
  let hostId: string;
  let vmId: string;
  const ops: string[] = [];

  before(async () => {
    t = await startTestApp({ store: 'postgres' });
    // A little latency keeps the first stop in flight while the second arrives (the 409 must name it).
    hostId = (await registerSimHost(t, 'pg-host', 'simulated://?latencyMs=200')).id as string;
  });
  after(async () => {
    await t?.close();
    if (t) await dropPostgresSchema(t.eventStoreUrl);
  });

  test('the app runs on the postgres store', async () => {
    const health = await t.http().get('/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.details.store.status, 'up');
    assert.equal(health.body.details.store.kind, 'postgres');
  });

  test('create → stop → start → delete', async () => {
    const created = await createVmOp(t, { name: 'pg-vm', vcpus: 2, memoryMiB: 128 });
    assert.equal(created.operation.status, 'succeeded', JSON.stringify(created.operation));
    vmId = created.accepted.vmId;
    ops.push(created.accepted.operationId);
    assert.equal((await getVm(t, vmId)).state, 'running');
    assert.deepEqual((await getHost(t, hostId)).allocated, { vcpus: 2, memoryMiB: 128 });

    ops.push((await runOk(t, 'post', `/v1/vms/${vmId}/stop`)).accepted.operationId);
    assert.equal((await getVm(t, vmId)).state, 'stopped');
    ops.push((await runOk(t, 'post', `/v1/vms/${vmId}/start`)).accepted.operationId);
    assert.equal((await getVm(t, vmId)).state, 'running');

    // Still one operation at a time on PostgreSQL.
    const first = await t.as('operator').post(`/v1/vms/${vmId}/stop`, {});
    const { operationId } = assertAccepted(first, vmId);
    const second = await t.as('operator').post(`/v1/vms/${vmId}/stop`, {});
    assert.equal(second.status, 409);
    ops.push(operationId);
    assert.match(second.body.message as string, new RegExp(operationId));
    assert.equal((await waitOperation(t, operationId)).status, 'succeeded');
    ops.push((await runOk(t, 'post', `/v1/vms/${vmId}/start`)).accepted.operationId);

    ops.push((await runOk(t, 'delete', `/v1/vms/${vmId}`)).accepted.operationId);
    assert.equal((await getVm(t, vmId)).state, 'deleted');
    await waitAllocated(t, hostId, { vcpus: 0, memoryMiB: 0 });
  });

  test('the history is complete and chained, the global log pages and verifies', async () => {
    const events = await vmEvents(t, vmId);
    let prev = GENESIS_HASH;
    for (const [i, e] of events.entries()) {
      assert.equal(e.revision, i);
      assert.equal(e.metadata.prevHash, prev);
      prev = e.metadata.hash as string;
      assert.ok(ops.includes(e.metadata.correlationId as string), `${e.type} ${e.metadata.correlationId}`);
      assert.match(e.metadata.principal as string, /^operator#/);
    }
    for (const ty of ['VmCreateRequested', 'VmStarted', 'VmStopped', 'VmDeleted']) {
      assert.ok(
        events.some((e) => e.type === ty),
        ty,
      );
    }

    const settled = await waitSettled(t, [hostId]);
    const seen: string[] = [];
    let next: string | null = '0';
    while (next !== null) {
      const res = await t.as('auditor').get(`/v1/events?fromPosition=${next}&limit=7`);
      assert.equal(res.status, 200);
      seen.push(...(res.body.items as Json[]).map((e) => e.position as string));
      next = res.body.next as string | null;
    }
    assert.deepEqual(
      seen,
      (await storeEvents(t)).map((e) => e.position.toString()),
    );
    assert.equal(seen.length, settled);

    const verify = await t.as('auditor').get('/v1/audit/verify');
    assert.equal(verify.status, 200);
    assert.deepEqual(
      { verified: verify.body.verified, firstBreak: verify.body.firstBreak },
      { verified: true, firstBreak: null },
    );
    assert.equal(verify.body.count, await logLength(t));
  });
});
