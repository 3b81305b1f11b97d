/**
 * Issue 12 item 5: projects and quotas. Two users in two projects (AUTH_FILE) cannot
 * see or touch each other's VMs (404, the same body as a missing id, nothing
 * appended); lists, events and the live feed show only what the caller may see;
 * each quota is refused up front naming it; concurrent creates at the edge never
 * overshoot; a VM that failed placement does not count and can be purged; AUTH_TOKENS
 * keeps working with the default project.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { logLength, settledLogLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertAccepted, assertError, readSse, registerSimHost, type Json } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { asUser, tokenOf, writeAuthFile } from '../support/users.js';

const VM = { name: 'vm', vcpus: 1, memoryMiB: 64, diskGiB: 1 };

describe('projects: tenants, scoping and quotas', () => {
  let t: TestApp;
  const dir = tempDir('vl-projects-');
  const alice = () => asUser(t, 'alice');
  const bob = () => asUser(t, 'bob');
  let aliceVm = '';
  let aliceOp = '';
  let bobVm = '';

  before(async () => {
    const authFile = writeAuthFile(dir.dir, [
      { name: 'alice', role: 'operator', projects: ['team-a'] },
      { name: 'bob', role: 'operator', projects: ['team-b'] },
      { name: 'carol', role: 'viewer', projects: ['team-a'] },
      { name: 'dave', role: 'operator', projects: ['team-a', 'team-b'] },
      { name: 'erin', role: 'auditor', projects: ['team-a'] },
      { name: 'root', role: 'admin', projects: 'all' },
    ]);
    t = await startTestApp({ env: { AUTH_FILE: authFile } });
    await registerSimHost(t, 'hv-projects');
  });
  after(async () => {
    await t.close();
    dir.cleanup();
  });

  test('an admin creates projects (201 + Location); bad input and non-admins are refused with nothing appended', async () => {
    const a = await t.as('admin').post('/v1/projects', { name: 'team-a', quotas: { vms: 5 } });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(a.headers.location, '/v1/projects/team-a');
    assert.deepEqual(a.body.quotas, { vms: 5 });
    assert.deepEqual(a.body.usage, { vms: 0, vcpus: 0, memoryMiB: 0, diskGiB: 0 });
    const b = await asUser(t, 'root').post('/v1/projects', { name: 'team-b' });
    assert.equal(b.status, 201, JSON.stringify(b.body));
    const before = await settledLogLength(t);
    assertError(await t.as('admin').post('/v1/projects', { name: 'Team A!' }), 400, 'name');
    assertError(await t.as('admin').post('/v1/projects', { name: 'x', quotas: { vms: -1 } }), 400, 'quotas.vms');
    assertError(await t.as('admin').post('/v1/projects', { name: 'x', quotas: { cpus: 1 } }), 400, 'cpus');
    assertError(await t.as('admin').post('/v1/projects', { name: 'team-a' }), 409, /already exists/);
    assertError(await t.as('admin').post('/v1/projects', { name: 'default' }), 409, /already exists/);
    assertError(await alice().post('/v1/projects', { name: 'mine' }), 403);
    assertError(await t.as('operator').post('/v1/projects', { name: 'mine' }), 403);
    assertError(await alice().patch('/v1/projects/team-a', { quotas: { vms: 99 } }), 403);
    assertError(
      await asUser(t, 'root').patch('/v1/projects/nope', { quotas: { vms: 1 } }),
      404,
      /project nope not found/,
    );
    assertError(await asUser(t, 'root').patch('/v1/projects/team-a', { quotas: { vms: 'many' } }), 400, 'quotas.vms');
    assert.equal(await logLength(t), before);
  });

  test("a user's VM lands in their only project, events name the user", async () => {
    const res = await alice().post('/v1/vms', VM);
    ({ vmId: aliceVm, operationId: aliceOp } = assertAccepted(res));
    assert.equal((await waitOperation(t, aliceOp)).status, 'succeeded');
    const view = await alice().get(`/v1/vms/${aliceVm}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.project, 'team-a');
    const events = await alice().get(`/v1/vms/${aliceVm}/events`);
    assert.equal(events.status, 200);
    assert.equal(events.body.items[0].data.project, 'team-a');
    assert.equal(events.body.items[0].metadata.principal, 'alice');
    const b = assertAccepted(await bob().post('/v1/vms', { ...VM, project: 'team-b' }));
    bobVm = b.vmId;
    assert.equal((await waitOperation(t, b.operationId)).status, 'succeeded');
  });

  test("another project's VM and operation answer exactly like missing ones, and commands on them append nothing", async () => {
    const missing = randomUUID();
    const same = async (path: (id: string) => string, send: (p: string) => Promise<{ status: number; body: Json }>) => {
      const theirs = await send(path(aliceVm));
      const none = await send(path(missing));
      assert.equal(theirs.status, 404, `${path(aliceVm)}: ${JSON.stringify(theirs.body)}`);
      assert.deepEqual(theirs.body, JSON.parse(JSON.stringify(none.body).replaceAll(missing, aliceVm)));
    };
    const before = await settledLogLength(t);
    await same(
      (id) => `/v1/vms/${id}`,
      (p) => bob().get(p),
    );
    await same(
      (id) => `/v1/vms/${id}/events`,
      (p) => bob().get(p),
    );
    await same(
      (id) => `/v1/vms/${id}/snapshots`,
      (p) => bob().get(p),
    );
    await same(
      (id) => `/v1/vms/${id}/diff`,
      (p) => bob().get(p),
    );
    await same(
      (id) => `/v1/vms/${id}?revision=0`,
      (p) => bob().get(p),
    );
    await same(
      (id) => `/v1/vms/${id}/stop`,
      (p) => bob().post(p, {}),
    );
    await same(
      (id) => `/v1/vms/${id}/snapshots`,
      (p) => bob().post(p, { name: 's1' }),
    );
    await same(
      (id) => `/v1/vms/${id}`,
      (p) => bob().delete(p),
    );
    await same(
      (id) => `/v1/vms/${id}`,
      (p) => t.as('operator').delete(p),
    );
    const op = await bob().get(`/v1/operations/${aliceOp}`);
    const noOp = await bob().get(`/v1/operations/${missing}`);
    assert.equal(op.status, 404);
    assert.equal(op.body.message, noOp.body.message.replace(missing, aliceOp));
    assert.equal(await logLength(t), before);
    // A viewer of team-a sees it; a tenant of both projects too.
    assert.equal((await asUser(t, 'carol').get(`/v1/vms/${aliceVm}`)).status, 200);
    assert.equal((await asUser(t, 'dave').get(`/v1/vms/${bobVm}`)).status, 200);
  });

  test('lists show only the caller’s projects', async () => {
    const ids = async (u: ReturnType<typeof alice>) =>
      ((await u.get('/v1/vms?limit=100')).body.items as Json[]).map((v) => v.id as string);
    assert.deepEqual(await ids(alice()), [aliceVm]);
    assert.deepEqual(await ids(bob()), [bobVm]);
    assert.deepEqual((await ids(asUser(t, 'dave'))).sort(), [aliceVm, bobVm].sort());
    assert.deepEqual(await ids(t.as('operator') as unknown as ReturnType<typeof alice>), []);
    const all = await ids(t.as('admin') as unknown as ReturnType<typeof alice>);
    assert.ok(all.includes(aliceVm) && all.includes(bobVm));
    const ops = (await bob().get('/v1/operations?limit=100')).body.items as Json[];
    assert.ok(ops.length > 0 && ops.every((o) => o.vmId === bobVm), JSON.stringify(ops));
    assert.deepEqual((await bob().get(`/v1/operations?vmId=${aliceVm}`)).body.items, []);
    assert.deepEqual(((await bob().get('/v1/vms?project=team-a')).body.items as Json[]).length, 0);
    assertError(await bob().get('/v1/vms?project=Team%20A'), 400, 'project');
  });

  test('projects: admins see all, tenants theirs with usage; another tenant’s is a 404', async () => {
    const names = (r: { body: Json }) => (r.body.items as Json[]).map((p) => p.name);
    assert.deepEqual(names(await t.as('admin').get('/v1/projects')), ['default', 'team-a', 'team-b']);
    assert.deepEqual(names(await alice().get('/v1/projects')), ['team-a']);
    assert.deepEqual(names(await asUser(t, 'dave').get('/v1/projects')), ['team-a', 'team-b']);
    assert.deepEqual(names(await t.as('operator').get('/v1/projects')), ['default']);
    const mine = await alice().get('/v1/projects/team-a');
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body.usage, { vms: 1, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    const theirs = await alice().get('/v1/projects/team-b');
    const none = await alice().get('/v1/projects/team-z');
    assert.equal(theirs.status, 404);
    assert.equal(theirs.body.message, none.body.message.replace('team-z', 'team-b'));
  });

  test('create: several projects and none named is a 400; a project the caller may not use is a 404', async () => {
    const before = await settledLogLength(t);
    assertError(await asUser(t, 'dave').post('/v1/vms', VM), 400, 'project');
    assertError(await alice().post('/v1/vms', { ...VM, project: 'team-b' }), 404, /project team-b not found/);
    assertError(await t.as('admin').post('/v1/vms', { ...VM, project: 'team-z' }), 404, /project team-z not found/);
    // The project is read beside the size check, yet the size check still answers first.
    const huge = { ...VM, vcpus: 200, project: 'team-z' };
    assertError(await t.as('admin').post('/v1/vms', huge), 422, /could ever hold 200 vCPUs/);
    assertError(await alice().post('/v1/vms', { ...VM, project: '../etc' }), 400, 'project');
    assert.equal(await logLength(t), before);
  });

  test('each quota is refused up front, naming quota, used and limit, with nothing appended', async () => {
    const quotas = { vms: 1, vcpus: 2, memoryMiB: 128, diskGiB: 2 };
    const q = await t.as('admin').post('/v1/projects', { name: 'tight', quotas });
    assert.equal(q.status, 201);
    const first = assertAccepted(await t.as('admin').post('/v1/vms', { ...VM, project: 'tight' }));
    assert.equal((await waitOperation(t, first.operationId)).status, 'succeeded');
    const cases: Array<[string, Json, Json]> = [
      ['vms', VM, { used: 1, limit: 1, requested: 1 }],
      ['vcpus', { ...VM, vcpus: 2 }, { used: 1, limit: 2, requested: 2 }],
      ['memoryMiB', { ...VM, memoryMiB: 128 }, { used: 64, limit: 128, requested: 128 }],
      ['diskGiB', { ...VM, diskGiB: 2 }, { used: 1, limit: 2, requested: 2 }],
    ];
    for (const [quota, body, numbers] of cases) {
      // Lift the vms limit for the other three, so each refusal is about its own quota only.
      const patch = await asUser(t, 'root').patch('/v1/projects/tight', {
        quotas: { ...quotas, vms: quota === 'vms' ? 1 : null },
      });
      assert.equal(patch.status, 200, JSON.stringify(patch.body));
      const before = await settledLogLength(t);
      const res = await t.as('admin').post('/v1/vms', { ...body, project: 'tight' });
      assertError(res, 429, quota);
      assert.deepEqual(res.body.details, { project: 'tight', quota, ...numbers }, quota);
      assert.equal(await logLength(t), before, `${quota}: nothing appended`);
    }
  });

  test('a resize that grows past a quota is refused like a create, with nothing appended; within it, accepted', async () => {
    assert.equal((await t.as('admin').post('/v1/projects', { name: 'grow', quotas: { vcpus: 2 } })).status, 201);
    const vm = assertAccepted(await t.as('admin').post('/v1/vms', { ...VM, project: 'grow', start: false }));
    assert.equal((await waitOperation(t, vm.operationId)).status, 'succeeded');
    const etag = (await t.as('admin').get(`/v1/vms/${vm.vmId}`)).headers.etag as string;
    const before = await settledLogLength(t);
    const over = await t.as('admin').patch(`/v1/vms/${vm.vmId}`, { vcpus: 3 }).set('If-Match', etag);
    assertError(over, 429, 'vcpus');
    assert.deepEqual(over.body.details, { project: 'grow', quota: 'vcpus', used: 1, requested: 2, limit: 2 });
    assert.equal(await logLength(t), before, 'nothing appended');
    const within = await t.as('admin').patch(`/v1/vms/${vm.vmId}`, { vcpus: 2 }).set('If-Match', etag);
    assert.equal(within.status, 202, JSON.stringify(within.body));
  });

  test('concurrent creates at the quota edge never overshoot', async () => {
    assert.equal((await t.as('admin').post('/v1/projects', { name: 'edge', quotas: { vms: 3 } })).status, 201);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.as('admin').post('/v1/vms', { ...VM, name: `edge-${i}`, project: 'edge' }),
      ),
    );
    const accepted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status !== 202);
    assert.equal(accepted.length, 3, results.map((r) => `${r.status} ${r.body.message ?? ''}`).join('\n'));
    for (const r of refused) assertError(r, 429, 'vms');
    const listed = (await t.as('admin').get('/v1/vms?project=edge&limit=100')).body.items as Json[];
    assert.equal(listed.length, 3);
    assert.equal((await t.as('admin').get('/v1/projects/edge')).body.usage.vms, 3);
  });

  test('a VM that failed placement does not count, and DELETE purges it from the default list', async () => {
    assert.equal((await t.as('admin').post('/v1/projects', { name: 'fp', quotas: { vms: 1 } })).status, 201);
    // Pinned to a draining host: accepted (it could fit), then placement fails.
    const drained = (await registerSimHost(t, 'hv-drained')).id as string;
    assert.equal((await t.as('admin').post(`/v1/hosts/${drained}/drain`, {})).status, 200);
    const big = assertAccepted(await t.as('admin').post('/v1/vms', { ...VM, hostId: drained, project: 'fp' }));
    assert.equal((await waitOperation(t, big.operationId)).status, 'failed');
    assert.equal((await t.as('admin').get('/v1/projects/fp')).body.usage.vms, 0);
    const small = assertAccepted(await t.as('admin').post('/v1/vms', { ...VM, project: 'fp' }));
    assert.equal((await waitOperation(t, small.operationId)).status, 'succeeded');
    const del = assertAccepted(await t.as('admin').delete(`/v1/vms/${big.vmId}`), big.vmId);
    assert.equal((await waitOperation(t, del.operationId)).status, 'succeeded');
    const listed = ((await t.as('admin').get('/v1/vms?project=fp')).body.items as Json[]).map((v) => v.id);
    assert.deepEqual(listed, [small.vmId]);
    const withDeleted = await t.as('admin').get('/v1/vms?project=fp&includeDeleted=true');
    assert.deepEqual(
      (withDeleted.body.items as Json[]).map((v) => [v.id, v.state]),
      [
        [big.vmId, 'deleted'],
        [small.vmId, 'running'],
      ],
    );
    assertError(await t.as('admin').get('/v1/vms?includeDeleted=yes'), 400, 'includeDeleted');
  });

  test('a project-scoped auditor reads only its projects in /v1/events and the live feed', async () => {
    const erin = { Authorization: `Bearer ${tokenOf('erin')}` };
    const page = await asUser(t, 'erin').get('/v1/events?limit=1000');
    assert.equal(page.status, 200);
    const streams = new Set((page.body.items as Json[]).map((e) => e.streamId as string));
    assert.ok(streams.has(`vm-${aliceVm}`), [...streams].join(' '));
    for (const s of streams) assert.ok(s === `vm-${aliceVm}` || s === 'project-team-a', `erin saw ${s}`);
    // The feed from the start: alice's VM's events, then a fresh one, never bob's.
    const aliceEvents = (await alice().get(`/v1/vms/${aliceVm}/events`)).body.items.length as number;
    const feed = await readSse(t, '/v1/events/stream?fromPosition=1', aliceEvents + 2, 'auditor', erin);
    assert.equal(feed.status, 200);
    const seen = feed.frames.map((f) => (JSON.parse(f.data!) as Json).streamId as string);
    assert.ok(
      seen.every((s) => s === `vm-${aliceVm}` || s === 'project-team-a'),
      seen.join(' '),
    );
  });

  test('AUTH_TOKENS keeps working: an operator token acts in the default project', async () => {
    const res = assertAccepted(await t.as('operator').post('/v1/vms', VM));
    assert.equal((await waitOperation(t, res.operationId)).status, 'succeeded');
    const view = await t.as('viewer').get(`/v1/vms/${res.vmId}`);
    assert.equal(view.body.project, 'default');
    assert.equal((await alice().get(`/v1/vms/${res.vmId}`)).status, 404);
    assert.equal((await t.as('auditor').get(`/v1/vms/${aliceVm}`)).status, 200);
    assert.equal((await t.as('viewer').get(`/v1/vms/${aliceVm}`)).status, 404);
  });
});
