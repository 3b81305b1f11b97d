/**
 * Issue #14: what a command or a sweep reads must follow what exists now, not every VM
 * ever created. The `vms` read model keeps a live index per project (quota admission,
 * usage) and per host (the reconciler's sweep); a deleted VM leaves both. A read model
 * built before these indexes existed (an upgrade) is detected and scanned as before, and
 * a rebuild gives it the indexes. Real Redis, SQLite, BullMQ workers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RedisProjectionTx } from '../../src/projections/redis-projection-tx.js';
import { logLength, settledLogLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertAccepted, assertError, registerSimHost, runOk, type Json } from '../support/e2e.js';

const VM = { name: 'live', vcpus: 1, memoryMiB: 64, diskGiB: 1 };

describe('live indexes: a project and a host read the VMs that exist, not every VM ever created', () => {
  let t: TestApp;
  let hostId = '';
  const kept: string[] = [];
  const redis = () => t.runtime.redis;
  const keys = () => t.runtime.keys;
  const members = (key: string) => redis().zrange(key, 0, -1);
  const create = (project: string) => t.as('admin').post('/v1/vms', { ...VM, project, hostId });
  const sweep = () => t.runtime.pool.reconcilers.get(hostId)!.sweep();
  const usage = async () => ((await t.as('admin').get('/v1/projects/churn')).body as Json).usage as Json;

  before(async () => {
    t = await startTestApp();
    hostId = (await registerSimHost(t, 'hv-live')).id as string;
    const p = await t.as('admin').post('/v1/projects', { name: 'churn', quotas: { vms: 2 } });
    assert.equal(p.status, 201, JSON.stringify(p.body));
  });
  after(() => t.close());

  test('20 VMs created and deleted under a quota of 2: each is admitted, and only the survivor stays indexed', async () => {
    const keep = assertAccepted(await create('churn'));
    assert.equal((await waitOperation(t, keep.operationId)).status, 'succeeded');
    kept.push(keep.vmId!);
    for (let i = 0; i < 20; i++) {
      // Admitted, created and deleted within seconds: the deleted VM must settle as nothing
      // (not count as an admission in flight), or the next create would exceed the quota of 2.
      const res = await create('churn');
      assert.equal(res.status, 202, `create ${i}: ${JSON.stringify(res.body)}`);
      assert.equal((await waitOperation(t, res.body.operationId as string)).status, 'succeeded');
      await runOk(t, 'delete', `/v1/vms/${res.body.vmId as string}`, undefined, 'admin');
    }
    assert.deepEqual(await members(keys().liveVmsOfProject('churn')), kept);
    assert.deepEqual(await members(keys().liveVmsOnHost(hostId)), kept);
    assert.equal(await redis().zcard(keys().vmsByProject('churn')), 21, 'the history is kept: every VM ever created');
    assert.equal((await usage()).vms, 1);
    assert.equal((await sweep()).checked, 1, 'the sweep looks at the one VM on the host');
  });

  test('the quota still refuses past its limit, naming it, with nothing appended', async () => {
    const second = assertAccepted(await create('churn'));
    assert.equal((await waitOperation(t, second.operationId)).status, 'succeeded');
    kept.push(second.vmId!);
    const before = await settledLogLength(t);
    const res = await create('churn');
    assertError(res, 429, 'vms');
    assert.deepEqual(res.body.details, { project: 'churn', quota: 'vms', used: 2, limit: 2, requested: 1 });
    assert.equal(await logLength(t), before);
    assert.deepEqual((await members(keys().liveVmsOnHost(hostId))).sort(), [...kept].sort());
    assert.equal((await sweep()).checked, 2);
  });

  test('a read model from before the live indexes is scanned as before (same answers); a rebuild gives it the indexes', async () => {
    // What an upgraded deployment has until its vms read model is rebuilt: no live indexes, no count.
    await redis().del(keys().liveIndexFormat(), keys().liveVmsOfProject('churn'), keys().liveVmsOnHost(hostId));
    assert.equal(await t.runtime.readModels.liveIndexesComplete(), false);
    assert.equal((await usage()).vms, 2);
    assert.equal((await sweep()).checked, 2, 'the sweep scans every VM and still finds both');
    const before = await settledLogLength(t);
    assertError(await create('churn'), 429, 'vms');
    assert.equal(await logLength(t), before);

    const res = await t.as('admin').post('/v1/projections/vms/rebuild', { reason: 'test: live indexes' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal((await waitOperation(t, res.body.operationId as string)).status, 'succeeded');
    assert.equal(await t.runtime.readModels.liveIndexesComplete(), true);
    assert.deepEqual((await members(keys().liveVmsOfProject('churn'))).sort(), [...kept].sort());
    assert.deepEqual((await members(keys().liveVmsOnHost(hostId))).sort(), [...kept].sort());
    assert.equal((await sweep()).checked, 2);
  });

  test('replay-check: the live indexes folded from the log equal the live read model', async () => {
    await runOk(t, 'delete', `/v1/vms/${kept.pop()!}`, undefined, 'admin');
    assert.deepEqual(await members(keys().liveVmsOnHost(hostId)), kept);
    const check = await t.as('auditor').get('/v1/audit/replay-check');
    assert.equal(check.status, 200, JSON.stringify(check.body));
    assert.equal(check.body.consistent, true, JSON.stringify(check.body.differences));
  });

  test('a projection transaction takes members out of an index, in a MULTI and in the fenced script', async () => {
    const index = `${t.redisPrefix}:rm:test-unindex`;
    const checkpoint = `${t.redisPrefix}:rm:checkpoint:test-unindex`;
    const fence = { key: `${t.redisPrefix}:test-fence`, value: 'owner/1' };
    await redis().set(fence.key, fence.value);
    const add = new RedisProjectionTx(redis());
    add.index(index, 1, 'a');
    add.index(index, 2, 'b');
    await add.commit(checkpoint, 1n);
    const plain = new RedisProjectionTx(redis());
    plain.unindex(index, 'a');
    await plain.commit(checkpoint, 2n);
    assert.deepEqual(await members(index), ['b']);
    const fenced = new RedisProjectionTx(redis());
    fenced.index(index, 3, 'c');
    fenced.unindex(index, 'b');
    await fenced.commit(checkpoint, 3n, fence);
    assert.deepEqual(await members(index), ['c']);
    // Rolled back with its event: a poison event's unindex is forgotten like its other writes.
    const rolled = new RedisProjectionTx(redis());
    rolled.mark();
    rolled.unindex(index, 'c');
    rolled.rollback();
    await rolled.commit(checkpoint, 4n);
    assert.deepEqual(await members(index), ['c']);
    await redis().del(index, checkpoint, fence.key);
  });
});
