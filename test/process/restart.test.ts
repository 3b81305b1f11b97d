/**
 * Restarts: the read models survive a restart unchanged, are rebuilt from the
 * log when Redis loses them, and a restart appends nothing (sagas resume from
 * their checkpoint and re-run nothing).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deleteRedisPrefix, startTestApp, type TestApp } from '../support/app.js';
import { tempDir, uniqueName } from '../support/env.js';
import { createVmOp, registerSimHost, runOk, storeEvents, waitSettled, waitUntil, type Json } from '../support/e2e.js';

interface Snapshot {
  vms: Json;
  hosts: Json;
  vm: Record<string, { body: Json; etag: string | undefined }>;
  operations: Json;
  operation: Record<string, Json>;
}

/** Everything a user can read from the read models, as they read it. */
async function snapshot(t: TestApp, vmIds: string[], operationIds: string[]): Promise<Snapshot> {
  const vms = (await t.as('viewer').get('/v1/vms?limit=1000&includeDeleted=true')).body as Json;
  const hosts = (await t.as('viewer').get('/v1/hosts')).body as Json;
  const operations = (await t.as('viewer').get('/v1/operations?limit=1000')).body as Json;
  const vm: Snapshot['vm'] = {};
  for (const id of vmIds) {
    const res = await t.as('viewer').get(`/v1/vms/${id}`);
    vm[id] = { body: res.body as Json, etag: res.headers.etag as string | undefined };
  }
  const operation: Record<string, Json> = {};
  for (const id of operationIds) operation[id] = (await t.as('viewer').get(`/v1/operations/${id}`)).body as Json;
  return { vms, hosts, vm, operations, operation };
}

const RESULT_TYPES = new Set([
  'VmPlaced',
  'VmDefined',
  'VmStarted',
  'VmStopped',
  'VmSnapshotTaken',
  'VmMigrationTargetPrepared',
  'VmMigrationHandedOff',
  'VmMigrated',
  'VmDeleted',
  'VmOperationRunning',
  'VmOperationFailed',
]);

/** No operation has the same result twice (a re-run saga or job would add one). */
async function assertNoDuplicateResults(t: TestApp): Promise<void> {
  const seen = new Set<string>();
  for (const e of await storeEvents(t)) {
    if (e.streamId.startsWith('vm-') && RESULT_TYPES.has(e.type)) {
      const key = `${e.data.operationId as string}/${e.type}`;
      assert.ok(!seen.has(key), `duplicate ${key}`);
      seen.add(key);
    }
    if (e.streamId.startsWith('host-') && (e.type === 'HostCapacityReserved' || e.type === 'HostCapacityReleased')) {
      const key = `${e.streamId}/${e.data.operationId as string}/${e.type}`;
      assert.ok(!seen.has(key), `duplicate ${key}`);
      seen.add(key);
    }
  }
}

describe('e2e: restart and rebuild', () => {
  const dir = tempDir('vl-restart-');
  const redisPrefix = uniqueName('vlt');
  const env = { JOB_ATTEMPTS: '2' };
  let t: TestApp | undefined;
  const hostIds: string[] = [];
  const vmIds: string[] = [];
  const operationIds: string[] = [];
  let expected: Snapshot;
  let length: number;

  before(async () => {
    t = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    const a = await registerSimHost(t, 'hv-a');
    const b = await registerSimHost(t, 'hv-b');
    const bad = await registerSimHost(t, 'hv-bad', 'simulated://?latencyMs=0&failVerbs=define');
    hostIds.push(a.id as string, b.id as string, bad.id as string);

    const track = (r: { accepted: { operationId: string; vmId: string } }) => {
      operationIds.push(r.accepted.operationId);
      if (!vmIds.includes(r.accepted.vmId)) vmIds.push(r.accepted.vmId);
      return r.accepted.vmId;
    };
    const v1 = track(await createVmOp(t, { name: 'r-1', hostId: a.id }));
    const v2 = track(await createVmOp(t, { name: 'r-2', hostId: a.id, start: false }));
    const v3 = track(await createVmOp(t, { name: 'r-3', hostId: b.id }));
    const v4 = track(await createVmOp(t, { name: 'r-4', hostId: bad.id }));
    track(await runOk(t, 'post', `/v1/vms/${v1}/snapshots`, { name: 'snap' }));
    track(await runOk(t, 'post', `/v1/vms/${v1}/pause`));
    track(await runOk(t, 'post', `/v1/vms/${v3}/migrations`, { targetHostId: a.id }));
    track(await runOk(t, 'delete', `/v1/vms/${v2}`));
    assert.equal(
      (await t.as('viewer').get(`/v1/operations/${operationIds[3]}`)).body.status,
      'failed',
      'r-4 create fails on define',
    );
    void v4;

    length = await waitSettled(t, hostIds);
    expected = await snapshot(t, vmIds, operationIds);
    // Sanity: the snapshot is of something.
    assert.equal(expected.vms.items.length, 4);
    assert.equal(expected.hosts.items.length, 3);
    assert.equal(Object.keys(expected.operation).length, operationIds.length);
  });
  after(async () => {
    await t?.close();
    await deleteRedisPrefix(redisPrefix);
    dir.cleanup();
  });

  test('stop and start on the same data dir and Redis prefix: every read model equal, nothing appended', async () => {
    await t!.stop();
    t = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    assert.equal(await waitSettled(t, hostIds), length, 'the restart appended events');
    assert.deepEqual(await snapshot(t, vmIds, operationIds), expected);
    await assertNoDuplicateResults(t);
  });

  test('Redis wiped (the prefix deleted) and restarted: read models rebuilt from the log, equal, nothing appended', async () => {
    await t!.stop();
    await deleteRedisPrefix(redisPrefix);
    t = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    const app = t;
    let last: Snapshot | undefined;
    await waitUntil(
      'the read models to be rebuilt',
      async () => {
        last = await snapshot(app, vmIds, operationIds);
        try {
          assert.deepEqual(last, expected);
          return true;
        } catch {
          return false;
        }
      },
      20000,
    ).catch(() => assert.deepEqual(last, expected));
    assert.equal(await waitSettled(t, hostIds), length, 'the rebuild appended events');
    await assertNoDuplicateResults(t);
  });

  test('after the rebuild the app works on: a paused VM resumes, a new VM is created', async () => {
    const app = t!;
    const vm = (await app.as('viewer').get(`/v1/vms/${vmIds[0]}`)).body as Json;
    assert.equal(vm.state, 'paused');
    await runOk(app, 'post', `/v1/vms/${vmIds[0]}/resume`);
    assert.equal((await app.as('viewer').get(`/v1/vms/${vmIds[0]}`)).body.state, 'running');
    const created = await createVmOp(app, { name: 'r-5' });
    assert.equal(created.operation.status, 'succeeded');
    await assertNoDuplicateResults(app);
  });

  test('the Redis wipe while running is noticed: the read models come back without a restart', async () => {
    const app = t!;
    const before = await waitSettled(app, hostIds);
    const ids = (await app.as('viewer').get('/v1/vms?limit=1000&includeDeleted=true')).body.items.map(
      (v: Json) => v.id as string,
    ) as string[];
    const want = await snapshot(app, ids, operationIds);
    await deleteRedisPrefix(redisPrefix);
    let last: Snapshot | undefined;
    await waitUntil(
      'the read models to be rebuilt in place',
      async () => {
        last = await snapshot(app, ids, operationIds);
        try {
          assert.deepEqual(last, want);
          return true;
        } catch {
          return false;
        }
      },
      20000,
    ).catch(() => assert.deepEqual(last, want));
    assert.equal((await storeEvents(app)).length, before);
  });

  test('an operation in flight across a restart finishes exactly once', async () => {
    let app = t!;
    const slow = await registerSimHost(app, 'hv-slow', 'simulated://?latencyMs=600');
    hostIds.push(slow.id as string);
    const created = await createVmOp(app, { name: 'r-slow', hostId: slow.id, start: false });
    assert.equal(created.operation.status, 'succeeded');
    const vmId = created.accepted.vmId;
    const res = await app.as('operator').post(`/v1/vms/${vmId}/start`, {});
    assert.equal(res.status, 202);
    const operationId = res.body.operationId as string;
    await app.stop();
    t = app = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    const op = await waitUntil('the start to finish', async () => {
      const r = await app.as('viewer').get(`/v1/operations/${operationId}?waitMs=2000`);
      return ['succeeded', 'failed'].includes(r.body.status as string) ? (r.body as Json) : undefined;
    });
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    await waitSettled(app, hostIds);
    const mine = (await storeEvents(app)).filter((e) => e.data.operationId === operationId).map((e) => e.type);
    assert.equal(mine.filter((x) => x === 'VmStartRequested').length, 1, mine.join(','));
    assert.equal(mine.filter((x) => x === 'VmStarted').length, 1, mine.join(','));
    assert.equal((await app.as('viewer').get(`/v1/vms/${vmId}`)).body.state, 'running');
    await assertNoDuplicateResults(app);
  });
});
