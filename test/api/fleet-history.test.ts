/**
 * The fleet at any instant (issue 13, point 5): GET /v1/vms?at=, /v1/hosts?at=
 * and /v1/fleet?at= over a history of creates, a migration and a delete,
 * each compared with what the live lists answered at that moment, by time and
 * by log position, on SQLite and PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { logLength, settledLogLength, type TestApp } from '../support/app.js';
import { startAppOn, STORE_KINDS } from '../support/store-kinds.js';
import { instantBetween } from '../support/wait.js';
import {
  assertError,
  createVmOp,
  registerSimHost,
  runOk,
  storeEvents,
  waitSettled,
  type Json,
} from '../support/e2e.js';

interface Mark {
  label: string;
  vms: Json[];
  hosts: Json[];
  /** Log head once settled: ?at=<position> must answer the same. */
  position: string;
  /** An instant after the live answers and before anything else happened. */
  at: string;
}

for (const { store, skip } of STORE_KINDS) {
  describe(`e2e: the fleet at any instant (${store})`, { skip }, () => {
    let t: TestApp;
    let close: () => Promise<void>;
    let hostA: string;
    let hostB: string;
    let vm1: string;
    let vm2: string;
    let create1: string;
    let migrateOp: string;
    const marks: Mark[] = [];

    async function mark(label: string): Promise<void> {
      await waitSettled(t, [hostA, hostB]);
      const vms = await t.as('viewer').get('/v1/vms?limit=100');
      const hosts = await t.as('viewer').get('/v1/hosts');
      assert.equal(vms.status, 200);
      assert.equal(hosts.status, 200);
      const head = await t.runtime.store!.headPosition();
      marks.push({
        label,
        vms: vms.body.items as Json[],
        hosts: hosts.body.items as Json[],
        position: String(head ?? 0n),
        at: await instantBetween(),
      });
    }

    before(async () => {
      ({ t, close } = await startAppOn(store));
      hostA = (await registerSimHost(t, 'fleet-a')).id as string;
      hostB = (await registerSimHost(t, 'fleet-b')).id as string;
      await mark('hosts registered');
      const c1 = await createVmOp(t, { name: 'fleet-vm1', hostId: hostA });
      assert.equal(c1.operation.status, 'succeeded', JSON.stringify(c1.operation));
      vm1 = c1.accepted.vmId;
      create1 = c1.accepted.operationId;
      await mark('vm1 on A');
      const c2 = await createVmOp(t, { name: 'fleet-vm2', hostId: hostB });
      vm2 = c2.accepted.vmId;
      await mark('vm2 on B');
      migrateOp = (await runOk(t, 'post', `/v1/vms/${vm1}/migrations`, { targetHostId: hostB, live: true }, 'admin'))
        .accepted.operationId;
      await mark('vm1 migrated to B');
      await runOk(t, 'delete', `/v1/vms/${vm2}`);
      await mark('vm2 deleted');
    });
    after(async () => {
      await close?.();
    });

    test('the fixture went through distinct fleets (so equal answers below mean something)', () => {
      assert.deepEqual(
        marks.map((m) => m.vms.map((v) => `${v.name}:${v.state}:${v.hostId === hostA ? 'A' : 'B'}`)),
        [
          [],
          ['fleet-vm1:running:A'],
          ['fleet-vm1:running:A', 'fleet-vm2:running:B'],
          ['fleet-vm1:running:B', 'fleet-vm2:running:B'],
          ['fleet-vm1:running:B'], // vm2 deleted: hidden by default, as in the live list,
        ],
      );
    });

    test('GET /v1/vms?at= and /v1/hosts?at= (a time or a log position) give exactly what the live lists said then', async () => {
      for (const m of marks) {
        for (const at of [m.at, m.position]) {
          const vms = await t.as('viewer').get(`/v1/vms?at=${encodeURIComponent(at)}`);
          assert.equal(vms.status, 200, JSON.stringify(vms.body));
          assert.deepEqual(vms.body.items, m.vms, `${m.label}: vms ?at=${at}`);
          assert.equal(vms.body.next, null);
          const hosts = await t.as('viewer').get(`/v1/hosts?at=${encodeURIComponent(at)}`);
          assert.equal(hosts.status, 200, JSON.stringify(hosts.body));
          assert.deepEqual(hosts.body.items, m.hosts, `${m.label}: hosts ?at=${at}`);
        }
      }
      // A time in the future is the fleet now (it is clamped, not refused).
      const future = await t.as('viewer').get('/v1/vms?at=2999-01-01T00:00:00Z');
      assert.equal(future.status, 200);
      assert.deepEqual(future.body.items, marks[marks.length - 1]!.vms);
      // Before the first event: an empty fleet.
      const early = await t.as('viewer').get('/v1/hosts?at=2000-01-01T00:00:00Z');
      assert.deepEqual(early.body.items, []);
    });

    test('GET /v1/fleet?at=: each host with the VMs it ran then', async () => {
      const expected = [
        { A: [], B: [] },
        { A: ['fleet-vm1'], B: [] },
        { A: ['fleet-vm1'], B: ['fleet-vm2'] },
        { A: [], B: ['fleet-vm1', 'fleet-vm2'] },
        { A: [], B: ['fleet-vm1'] },
      ];
      for (const [i, m] of marks.entries()) {
        const res = await t.as('viewer').get(`/v1/fleet?at=${encodeURIComponent(m.at)}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const byHost = Object.fromEntries(
          (res.body.hosts as Json[]).map((h) => [h.id === hostA ? 'A' : 'B', (h.vms as Json[]).map((v) => v.name)]),
        );
        assert.deepEqual(byHost, expected[i], `${m.label}`);
        assert.deepEqual(res.body.operations, [], `${m.label}: nothing in flight once settled`);
        // The live hosts' allocations agree with the fleet's.
        for (const h of res.body.hosts as Json[])
          assert.deepEqual(h.allocated, m.hosts.find((x) => x.id === h.id)!.allocated, `${m.label} ${h.id}`);
      }
      const now = await t.as('viewer').get('/v1/fleet');
      assert.equal(now.status, 200);
      assert.deepEqual(
        (now.body.hosts as Json[]).map((h) => (h.vms as Json[]).map((v) => v.id)),
        [[], [vm1]],
      );
    });

    test('GET /v1/fleet?at=<position> mid-operation: the operations in flight, with their principals', async () => {
      const log = await storeEvents(t);
      const createdAt = log.find((e) => e.type === 'VmCreateRequested' && e.streamId === `vm-${vm1}`)!;
      const res = await t.as('viewer').get(`/v1/fleet?at=${createdAt.position}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const createOp = (await t.as('viewer').get(`/v1/operations/${create1}`)).body as Json;
      assert.deepEqual(
        (res.body.operations as Json[]).map((o) => [o.id, o.kind, o.step, o.vmId, o.principal]),
        [[create1, 'create', 'placement', vm1, createOp.principal]],
      );
      assert.deepEqual(
        (res.body.unplaced as Json[]).map((v) => v.id),
        [vm1],
        'requested, not yet on a host',
      );
      assert.equal(res.body.asOf.position, String(createdAt.position));

      const migrating = log.find((e) => e.type === 'VmMigrationRequested' && e.streamId === `vm-${vm1}`)!;
      const mid = await t.as('viewer').get(`/v1/fleet?at=${migrating.position}`);
      const migrateView = (await t.as('viewer').get(`/v1/operations/${migrateOp}`)).body as Json;
      const op = (mid.body.operations as Json[]).find((o) => o.id === migrateOp);
      assert.equal(op?.principal, migrateView.principal);
      assert.equal(op?.kind, 'migrate');
      const onA = (mid.body.hosts as Json[]).find((h) => h.id === hostA)!.vms as Json[];
      assert.deepEqual(
        onA.map((v) => [v.id, v.migratingTo]),
        [[vm1, hostB]],
      );
    });

    test('bad ?at → 400 naming at; a position past the head → 400; nothing appended', async () => {
      const n = await settledLogLength(t);
      const head = await t.runtime.store!.headPosition();
      const cases = [
        'at=yesterday',
        'at=2030-01-01T10:00:00', // no zone: which 10:00?
        'at=2024-02-30T00:00:00Z',
        'at=',
        'at=-1',
        'at=1.5',
        'at=2030-01-01T00:00:00Z&at=2030-01-02T00:00:00Z',
        `at=${(head ?? 0n) + 1000n}`,
      ];
      for (const path of ['/v1/vms', '/v1/hosts', '/v1/fleet']) {
        for (const q of cases) {
          const res = await t.as('viewer').get(`${path}?${q}`);
          assertError(res, 400, 'at');
          assert.ok(
            (res.body.details as Json[]).some((d) => d.field === 'at'),
            `${path}?${q}: details name at: ${JSON.stringify(res.body)}`,
          );
        }
      }
      assertError(await t.as('viewer').get(`/v1/fleet?at=${(head ?? 0n) + 1000n}`), 400, /past the log's head/);
      assert.equal(await logLength(t), n);
    });

    test('roles: the same as GET /v1/vms/{id}?at= (every reader); no token → 401', async () => {
      for (const role of ['viewer', 'auditor', 'operator', 'admin'] as const) {
        for (const path of ['/v1/vms', '/v1/hosts', '/v1/fleet']) {
          const res = await t.as(role).get(`${path}?at=${encodeURIComponent(marks[1]!.at)}`);
          assert.equal(res.status, 200, `${role} ${path}: ${JSON.stringify(res.body)}`);
        }
      }
      for (const path of ['/v1/vms', '/v1/hosts', '/v1/fleet'])
        assert.equal((await t.http().get(`${path}?at=0`)).status, 401);
    });
  });
}
