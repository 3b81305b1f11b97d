/**
 * Authentication and the role matrix, derived from src/http/auth/roles.ts
 * and the @Roles on each controller (admin may call everything):
 *
 *   route                                   admin operator auditor viewer
 *   POST /v1/hosts                            ✓      ✗       ✗      ✗
 *   GET  /v1/hosts, /v1/hosts/{id}            ✓      ✓       ✓      ✓
 *   GET  /v1/hosts/{id}/domains               ✓      ✓       ✓      ✗
 *   POST|DELETE /v1/vms… (every mutation)     ✓      ✓       ✗      ✗
 *   GET  /v1/vms, /v1/vms/{id}, …/snapshots   ✓      ✓       ✓      ✓
 *   GET  /v1/operations, /v1/operations/{id}  ✓      ✓       ✓      ✓
 *   GET  /v1/vms/{id}/events                  ✓      ✓       ✓      ✗
 *   GET  /v1/events, /v1/events/stream        ✓      ✗       ✓      ✗
 *   GET  /v1/audit/verify                     ✓      ✗       ✓      ✗
 *   GET  /health, /metrics                    public
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  logLength,
  settledLogLength,
  startTestApp,
  TOKENS,
  waitOperation,
  type TestApp,
  type TestRole,
} from '../support/app.js';
import {
  assertAccepted,
  assertError,
  createVmOp,
  readSse,
  registerSimHost,
  runOk,
  vmEvents,
  type Json,
} from '../support/e2e.js';

const ROLES: TestRole[] = ['admin', 'operator', 'auditor', 'viewer'];

describe('e2e: authentication and roles', () => {
  let t: TestApp;
  let hostId: string;
  let otherHostId: string;
  let vmId: string;
  let operationId: string;

  before(async () => {
    t = await startTestApp();
    hostId = (await registerSimHost(t, 'hv-1')).id as string;
    otherHostId = (await registerSimHost(t, 'hv-2')).id as string;
    const created = await createVmOp(t, { name: 'guarded', hostId });
    assert.equal(created.operation.status, 'succeeded');
    vmId = created.accepted.vmId;
    operationId = created.accepted.operationId;
    // A snapshot, so that revert / delete-snapshot have something to refer to.
    await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 's1' });
  });
  after(async () => {
    await t?.close();
  });

  describe('401 without a valid token', () => {
    const headers: Array<[string, string | undefined]> = [
      ['no Authorization header', undefined],
      ['a wrong token', `Bearer ${'x'.repeat(32)}`],
      ['a token of another deployment with a valid shape', `Bearer ${TOKENS.admin}-other`],
      ['Basic instead of Bearer', `Basic ${Buffer.from('admin:admin').toString('base64')}`],
      ['Bearer without a token', 'Bearer '],
    ];
    for (const [what, header] of headers) {
      test(`${what}: reads and mutations are 401 and nothing is appended`, async () => {
        const before = await settledLogLength(t);
        for (const [method, path, body] of [
          ['get', '/v1/vms', undefined],
          ['get', `/v1/vms/${vmId}`, undefined],
          ['get', '/v1/events', undefined],
          ['post', '/v1/vms', { name: 'x', vcpus: 1, memoryMiB: 64, diskGiB: 1 }],
          ['post', `/v1/vms/${vmId}/stop`, {}],
          [
            'post',
            '/v1/hosts',
            { name: 'h', driver: 'simulated', uri: 'simulated://', capacity: { vcpus: 1, memoryMiB: 64 } },
          ],
        ] as const) {
          let req = method === 'get' ? t.http().get(path) : t.http().post(path).send(body);
          if (header !== undefined) req = req.set('Authorization', header);
          const res = await req;
          assertError(res, 401);
          assert.match(res.body.message as string, /token/i);
        }
        assert.equal(await logLength(t), before);
      });
    }

    test('/health and /metrics need no token', async () => {
      assert.equal((await t.http().get('/health')).status, 200);
      assert.equal((await t.http().get('/metrics')).status, 200);
    });
  });

  describe('reads', () => {
    type Read = { path: () => string; allowed: TestRole[]; sse?: boolean };
    const ALL = ROLES;
    const reads: Read[] = [
      { path: () => '/v1/hosts', allowed: ALL },
      { path: () => `/v1/hosts/${hostId}`, allowed: ALL },
      { path: () => `/v1/hosts/${hostId}/domains`, allowed: ['admin', 'operator', 'auditor'] },
      { path: () => '/v1/vms', allowed: ALL },
      { path: () => `/v1/vms/${vmId}`, allowed: ALL },
      { path: () => `/v1/vms/${vmId}/snapshots`, allowed: ALL },
      { path: () => '/v1/operations', allowed: ALL },
      { path: () => `/v1/operations/${operationId}`, allowed: ALL },
      { path: () => `/v1/vms/${vmId}/events`, allowed: ['admin', 'operator', 'auditor'] },
      { path: () => '/v1/events', allowed: ['admin', 'auditor'] },
      { path: () => '/v1/events/stream', allowed: ['admin', 'auditor'], sse: true },
      { path: () => '/v1/audit/verify', allowed: ['admin', 'auditor'] },
      { path: () => '/health', allowed: ALL },
      { path: () => '/metrics', allowed: ALL },
    ];
    for (const r of reads) {
      for (const role of ROLES) {
        const ok = r.allowed.includes(role);
        test(`${role} GET ${r.path().replace(/[0-9a-f-]{36}/g, '{id}')} → ${ok ? 200 : 403}`, async () => {
          const path = r.path();
          if (r.sse) {
            const res = await readSse(t, path, 1, role);
            assert.equal(res.status, ok ? 200 : 403);
            if (ok) assert.equal(res.frames.length, 1);
            return;
          }
          const res = await t.as(role).get(path);
          if (ok) {
            assert.equal(res.status, 200, JSON.stringify(res.body));
          } else {
            assertError(res, 403);
            assert.match(res.body.message as string, new RegExp(`role ${role}`));
          }
        });
      }
    }
  });

  describe('mutations', () => {
    type Mutation = { name: string; method: 'post' | 'delete'; path: () => string; body?: () => object };
    const vmMutations: Mutation[] = [
      {
        name: 'create VM',
        method: 'post',
        path: () => '/v1/vms',
        body: () => ({ name: 'nope', vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
      },
      { name: 'start', method: 'post', path: () => `/v1/vms/${vmId}/start`, body: () => ({}) },
      { name: 'stop', method: 'post', path: () => `/v1/vms/${vmId}/stop`, body: () => ({ force: true }) },
      { name: 'reboot', method: 'post', path: () => `/v1/vms/${vmId}/reboot`, body: () => ({}) },
      { name: 'pause', method: 'post', path: () => `/v1/vms/${vmId}/pause`, body: () => ({}) },
      { name: 'resume', method: 'post', path: () => `/v1/vms/${vmId}/resume`, body: () => ({}) },
      { name: 'snapshot', method: 'post', path: () => `/v1/vms/${vmId}/snapshots`, body: () => ({ name: 's2' }) },
      { name: 'revert', method: 'post', path: () => `/v1/vms/${vmId}/snapshots/s1/revert`, body: () => ({}) },
      { name: 'delete snapshot', method: 'delete', path: () => `/v1/vms/${vmId}/snapshots/s1` },
      {
        name: 'migrate',
        method: 'post',
        path: () => `/v1/vms/${vmId}/migrations`,
        body: () => ({ targetHostId: otherHostId }),
      },
      { name: 'delete VM', method: 'delete', path: () => `/v1/vms/${vmId}` },
    ];
    const send = (role: TestRole, m: Mutation) =>
      m.method === 'post' ? t.as(role).post(m.path(), m.body?.()) : t.as(role).delete(m.path());

    for (const role of ['auditor', 'viewer'] as const) {
      for (const m of vmMutations) {
        test(`${role} may not ${m.name} → 403, nothing appended`, async () => {
          const before = await settledLogLength(t);
          const res = await send(role, m);
          assertError(res, 403);
          assert.match(res.body.message as string, new RegExp(`role ${role}`));
          assert.equal(await logLength(t), before);
        });
      }
    }

    for (const role of ['operator', 'auditor', 'viewer'] as const) {
      test(`${role} may not register a host → 403, nothing appended`, async () => {
        const before = await settledLogLength(t);
        const res = await t.as(role).post('/v1/hosts', {
          name: `h-${role}`,
          driver: 'simulated',
          uri: 'simulated://',
          capacity: { vcpus: 1, memoryMiB: 64 },
        });
        assertError(res, 403);
        assert.equal(await logLength(t), before);
        const hosts = await t.as('viewer').get('/v1/hosts');
        assert.ok(!(hosts.body.items as Json[]).some((h) => h.name === `h-${role}`));
      });
    }

    test('admin registers a host → 201', async () => {
      const res = await t.as('admin').post('/v1/hosts', {
        name: 'by-admin',
        driver: 'simulated',
        uri: 'simulated://',
        capacity: { vcpus: 1, memoryMiB: 64 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    });

    test('operator may run every VM mutation (each 202 and succeeds), recorded under its principal', async () => {
      const order = [
        'stop',
        'start',
        'reboot',
        'pause',
        'resume',
        'snapshot',
        'revert',
        'delete snapshot',
        'migrate',
        'delete VM',
      ];
      const created = await createVmOp(t, { name: 'by-operator', hostId });
      assert.equal(created.operation.status, 'succeeded');
      const target = created.accepted.vmId;
      // The guarded VM's paths, pointed at this VM.
      const swap = (p: string) => p.replace(vmId, target);
      await runOk(t, 'post', `/v1/vms/${target}/snapshots`, { name: 's1' });
      for (const name of order) {
        const m = vmMutations.find((x) => x.name === name)!;
        // revert restores the running VM (memory snapshot); the snapshot 's2' is taken while it runs.
        await runOk(t, m.method, swap(m.path()), m.body?.(), 'operator');
      }
      const events = await vmEvents(t, target);
      assert.ok(events.every((e) => /^operator#/.test(e.metadata.principal as string)));
      assert.equal(events[events.length - 1]!.type, 'VmDeleted');
    });

    test('admin may mutate VMs too; the events name the admin principal', async () => {
      const res = await t
        .as('admin')
        .post('/v1/vms', { name: 'by-admin', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
      const acc = assertAccepted(res);
      const op = await waitOperation(t, acc.operationId);
      assert.equal(op.status, 'succeeded');
      assert.match(op.principal as string, /^admin#/);
      const del = await runOk(t, 'delete', `/v1/vms/${acc.vmId}`, undefined, 'admin');
      assert.equal(del.operation.status, 'succeeded');
      const events = await vmEvents(t, acc.vmId);
      assert.ok(events.every((e) => /^admin#/.test(e.metadata.principal as string)));
    });

    test('the guarded VM was never touched by the refused calls', async () => {
      const events = await vmEvents(t, vmId);
      const types = events.map((e) => e.type);
      assert.deepEqual(
        types.filter((x) => x.endsWith('Requested')),
        ['VmCreateRequested', 'VmSnapshotRequested'],
      );
    });
  });
});
