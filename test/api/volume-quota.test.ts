/**
 * A volume's size counts against its project's diskGiB quota, with VM disks: refused up
 * front (429 naming project, quota, used, requested, limit; nothing appended), a grow asks
 * for the difference, a delete or a create no host could take gives the room back, and ten
 * concurrent creates spread over three API processes on one PostgreSQL admit only three.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiFleet } from '../../chaos/support/api-fleet.js';
import { logLength, settledLogLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertError } from '../support/e2e.js';
import { testPostgresUrl, testRedisUrl, uniqueName } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';
import { dropPostgresSchema } from '../support/store-kinds.js';
import { volumeOp } from '../support/volumes.js';

type Json = Record<string, unknown>;

describe('e2e: volumes count against the project diskGiB quota', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
    for (const [id, diskGiB] of [
      ['vq-big', 1000],
      ['vq-tiny', 1],
      ['vq-fail', 1000],
    ] as const) {
      const res = await t.as('admin').post('/v1/hosts', {
        id,
        name: id,
        driver: 'simulated',
        // vq-fail: every createVolume fails on the host, after the control plane accepted it.
        uri: `simulated://?latencyMs=0${id === 'vq-fail' ? '&failureRate=1&failVerbs=createVolume' : ''}`,
        capacity: { vcpus: 16, memoryMiB: 16384, diskGiB },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const p = await t.as('admin').post('/v1/projects', { name: 'vq', quotas: { diskGiB: 10 } });
    assert.equal(p.status, 201, JSON.stringify(p.body));
  });
  after(async () => {
    await t?.close();
  });

  const usage = async () => {
    const res = await t.as('admin').get('/v1/projects/vq');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return { diskGiB: (res.body.usage as Json).diskGiB, ...(res.body.diskUsage as Json) };
  };

  async function refused(send: () => Promise<{ status: number; body: Json }>, details: Json): Promise<void> {
    const before = await settledLogLength(t);
    const res = await send();
    assertError(res as never, 429, 'diskGiB');
    assert.deepEqual(res.body.details, { project: 'vq', quota: 'diskGiB', ...details });
    assert.equal(await logLength(t), before, 'a refused request appended an event');
  }

  let volumeId = '';

  async function createVolume(body: Json): Promise<string> {
    const r = await volumeOp(t, 'post', '/v1/volumes', { hostId: 'vq-big', ...body }, 'admin');
    assert.equal(r.operation.status, 'succeeded', JSON.stringify(r.operation));
    return r.volumeId;
  }

  test('a create counts with VM disks; one past the quota is a 429 with nothing appended', async () => {
    volumeId = await createVolume({ name: 'vq-a', sizeGiB: 4, project: 'vq' });
    const vm = await t.as('admin').post('/v1/vms', {
      name: 'vq-vm',
      vcpus: 1,
      memoryMiB: 64,
      diskGiB: 3,
      project: 'vq',
      hostId: 'vq-big',
      start: false,
    });
    assert.equal(vm.status, 202, JSON.stringify(vm.body));
    assert.equal((await waitOperation(t, vm.body.operationId as string)).status, 'succeeded');
    assert.deepEqual(await usage(), { diskGiB: 7, vms: 3, volumes: 4 });
    await refused(() => t.as('admin').post('/v1/volumes', { name: 'vq-b', sizeGiB: 4, project: 'vq' }), {
      used: 7,
      requested: 4,
      limit: 10,
    });
    // And a VM now sees the volume's share of the quota too.
    const before = await settledLogLength(t);
    const over = await t
      .as('admin')
      .post('/v1/vms', { name: 'vq-vm2', vcpus: 1, memoryMiB: 64, diskGiB: 4, project: 'vq' });
    assertError(over, 429, 'diskGiB');
    assert.equal(await logLength(t), before);
  });

  test('a grow asks only for the difference', async () => {
    await refused(() => t.as('admin').patch(`/v1/volumes/${volumeId}`, { sizeGiB: 8 }), {
      used: 7,
      requested: 4,
      limit: 10,
    });
    const r = await volumeOp(t, 'patch', `/v1/volumes/${volumeId}`, { sizeGiB: 7 }, 'admin');
    assert.equal(r.operation.status, 'succeeded', JSON.stringify(r.operation));
    assert.deepEqual(await usage(), { diskGiB: 10, vms: 3, volumes: 7 });
  });

  test('a create no host can take gives its admission back at once', async () => {
    const del = await volumeOp(t, 'delete', `/v1/volumes/${volumeId}`, undefined, 'admin');
    assert.equal(del.operation.status, 'succeeded', JSON.stringify(del.operation));
    assert.deepEqual(await usage(), { diskGiB: 3, vms: 3, volumes: 0 });
    const noRoom = await t
      .as('operator')
      .post('/v1/volumes', { name: 'vq-c', sizeGiB: 7, project: 'vq', hostId: 'vq-tiny' });
    assert.equal(
      noRoom.status >= 400 && noRoom.status < 500 && noRoom.status !== 429,
      true,
      JSON.stringify(noRoom.body),
    );
    // Within the in-flight window: had the admission stayed, these 7 GiB would not fit.
    const id = await createVolume({ name: 'vq-d', sizeGiB: 7, project: 'vq' });
    assert.ok(id);
    assert.deepEqual(await usage(), { diskGiB: 10, vms: 3, volumes: 7 });
  });

  test('a create that fails on the host gives its size back; so does a delete', async () => {
    const id = (await t.as('admin').get('/v1/volumes')).body.items as Json[];
    const vd = id.find((v) => v.name === 'vq-d')!;
    const del = await volumeOp(t, 'delete', `/v1/volumes/${vd.id as string}`, undefined, 'admin');
    assert.equal(del.operation.status, 'succeeded', JSON.stringify(del.operation));
    const failed = await volumeOp(
      t,
      'post',
      '/v1/volumes',
      { name: 'vq-e', sizeGiB: 7, project: 'vq', hostId: 'vq-fail' },
      'admin',
    );
    assert.equal(failed.operation.status, 'failed', JSON.stringify(failed.operation));
    assert.deepEqual(await usage(), { diskGiB: 3, vms: 3, volumes: 0 });
    await createVolume({ name: 'vq-f', sizeGiB: 7, project: 'vq' });
    assert.deepEqual(await usage(), { diskGiB: 10, vms: 3, volumes: 7 });
  });
});

const base = testPostgresUrl();
const skip = base ? false : 'TEST_POSTGRES_URL not set (several API processes need a shared PostgreSQL store)';

describe('volume quota across three API processes on one PostgreSQL', { skip }, () => {
  let fleet: ApiFleet;
  let storeUrl = '';
  // The API processes write under the prefix; this file connects only to clean up.
  const own = redisForTest('vlvq');
  const { prefix } = own;

  before(async () => {
    const u = new URL(base!);
    u.searchParams.set('schema', uniqueName('vlvq'));
    storeUrl = u.toString();
    fleet = await ApiFleet.start({
      name: 'vq',
      apis: 3,
      redisUrl: testRedisUrl(),
      redisPrefix: prefix,
      eventStoreUrl: storeUrl,
      env: { RATE_LIMIT_BURST: '0', RATE_LIMIT_PER_MINUTE: '0' },
    });
    const hostId = await fleet.registerHost('vq-h1', 'simulated://?latencyMs=0');
    fleet.startWorker('worker', [hostId]);
  });
  after(async () => {
    await fleet?.close();
    if (storeUrl) await dropPostgresSchema(storeUrl);
    await own.cleanup();
  });

  test('10 concurrent creates against a quota that fits 3: exactly 3 accepted, 7 refused with 429', async () => {
    const admin = fleet.members[0]!.client;
    const p = await admin.post('/v1/projects', { name: 'edge', quotas: { diskGiB: 9 } });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        fleet.members[i % 3]!.client.post('/v1/volumes', { name: `edge-${i}`, sizeGiB: 3, project: 'edge' }),
      ),
    );
    const accepted = results.filter((r) => r.status === 202);
    const refusedOnes = results.filter((r) => r.status !== 202);
    assert.equal(accepted.length, 3, results.map((r) => `${r.status} ${JSON.stringify(r.body)}`).join('\n'));
    for (const r of accepted) {
      const op = await admin.get(`/v1/operations/${r.body.operationId as string}?waitMs=20000`);
      assert.equal(op.body.status, 'succeeded', JSON.stringify(op.body));
    }
    for (const r of refusedOnes) {
      assert.equal(r.status, 429, JSON.stringify(r.body));
      assert.equal((r.body.details as Json).quota, 'diskGiB');
    }
    const listed = ((await admin.get('/v1/volumes')).body.items as Json[]).filter((v) => v.project === 'edge');
    assert.equal(listed.length, 3);
    const view = await admin.get('/v1/projects/edge');
    assert.equal((view.body.usage as Json).diskGiB, 9);
    assert.deepEqual(view.body.diskUsage, { vms: 0, volumes: 9 });
  });
});
