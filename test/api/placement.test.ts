/**
 * Placement policies with real workers (simulated driver, real Redis/BullMQ; SQLite, and
 * PostgreSQL when TEST_POSTGRES_URL is set: the group's expected-revision admission on each):
 * placement groups (hard and soft anti-affinity, hard affinity), hostSelector, spread vs pack,
 * refusals naming every host and why, and migrations that keep a hard group.
 * Each test selects its own hosts by a `pool` label, so the tests share one app.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { placementGroupStream } from '../../src/domain/streams.js';
import { logLength, settledLogLength, waitOperation, type TestApp } from '../support/app.js';
import { startAppOn, STORE_KINDS } from '../support/store-kinds.js';
import { assertError, countEvents, getVm, runOk, vmEvents, type Json } from '../support/e2e.js';

for (const { store, skip } of STORE_KINDS)
  describe(`api: placement policies (${store})`, { skip }, () => {
    let t: TestApp;
    let close: () => Promise<void> = async () => undefined;

    before(async () => {
      ({ t, close } = await startAppOn(store));
    });
    after(async () => {
      await close();
    });

    async function host(name: string, labels: Record<string, string>, memoryMiB = 8192): Promise<string> {
      const res = await t.as('admin').post('/v1/hosts', {
        name,
        driver: 'simulated',
        uri: 'simulated://?latencyMs=0',
        capacity: { vcpus: 16, memoryMiB },
        labels,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    }

    async function group(name: string, policy: 'affinity' | 'anti-affinity', strict: boolean): Promise<string> {
      const res = await t.as('operator').post('/v1/placement-groups', { name, policy, strict });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.equal(res.headers.location, `/v1/placement-groups/${res.body.id}`);
      assert.deepEqual(res.body.members, []);
      return res.body.id as string;
    }

    const create = (body: Json) => t.as('operator').post('/v1/vms', { vcpus: 1, memoryMiB: 64, diskGiB: 1, ...body });

    async function created(body: Json): Promise<string> {
      const res = await create(body);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const op = await waitOperation(t, res.body.operationId as string);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      return res.body.vmId as string;
    }

    const placedEvidence = async (vmId: string) =>
      ((await vmEvents(t, vmId)).find((e) => e.type === 'VmPlaced')?.data.evidence.candidates ?? []) as Json[];

    test('50 concurrent creates in a hard anti-affinity group over 3 hosts: one member per host, 47 refused naming every host', async () => {
      const hosts = [
        await host('aa-1', { pool: 'aa' }),
        await host('aa-2', { pool: 'aa' }),
        await host('aa-3', { pool: 'aa' }),
      ];
      const g = await group('web', 'anti-affinity', true);
      const before = await settledLogLength(t);
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          create({ name: `web-${i}`, placementGroupId: g, hostSelector: { pool: 'aa' } }),
        ),
      );
      const accepted = answers.filter((r) => r.status === 202);
      const refused = answers.filter((r) => r.status !== 202);
      assert.equal(accepted.length, 3, answers.map((r) => `${r.status} ${r.body.message}`).join('\n'));
      for (const r of refused) {
        assertError(r, 409);
        const named = (r.body.details.hosts as Json[]).filter((h) => hosts.includes(h.id as string));
        assert.equal(named.length, 3, JSON.stringify(r.body));
        for (const h of named) assert.match(h.reason as string, /^anti-affinity: runs web-\d+$/, JSON.stringify(h));
        // Every other host of the app is named too, with why (its label).
        for (const h of r.body.details.hosts as Json[])
          if (!hosts.includes(h.id as string)) assert.match(h.reason as string, /^label pool=/);
        assert.match(r.body.message as string, /aa-1 \(.*\): anti-affinity: runs web-/);
      }
      const ops = await Promise.all(accepted.map((r) => waitOperation(t, r.body.operationId as string)));
      for (const op of ops) assert.equal(op.status, 'succeeded', JSON.stringify(op));
      const where = await Promise.all(
        accepted.map(async (r) => (await getVm(t, r.body.vmId as string)).hostId as string),
      );
      assert.deepEqual([...where].sort(), [...hosts].sort(), 'one member on each host, never two');
      // The refused ones appended nothing: 3 admissions on the group's stream, 3 VMs.
      assert.equal(
        await countEvents(
          t,
          (e) => e.streamId === placementGroupStream(g) && e.type === 'PlacementGroupMemberAdmitted',
        ),
        3,
      );
      assert.ok((await logLength(t)) > before);
      const view = await t.as('viewer').get(`/v1/placement-groups/${g}`);
      assert.equal(view.status, 200);
      assert.deepEqual((view.body.members as Json[]).map((m) => m.hostIds[0]).sort(), [...hosts].sort());
      const vm = await getVm(t, accepted[0]!.body.vmId as string);
      assert.equal(vm.placementGroupId, g);
      assert.deepEqual(vm.hostSelector, { pool: 'aa' });
      // Each VM's placement evidence is its admission's: every host weighed. Admissions are serialized
      // by the group's stream, so the members saw 0, 1 and 2 hosts already taken.
      const evidences = await Promise.all(accepted.map((r) => placedEvidence(r.body.vmId as string)));
      for (const e of evidences) assert.equal(e.filter((c) => c.verdict === 'chosen').length, 1, JSON.stringify(e));
      assert.deepEqual(
        evidences.map((e) => e.filter((c) => c.reason === 'affinity').length).sort(),
        [0, 1, 2],
        JSON.stringify(evidences),
      );
      // A group with members cannot be deleted; once they are gone it can.
      const busy = await t.as('operator').delete(`/v1/placement-groups/${g}`);
      assertError(busy, 409, /still has 3 members/);
      for (const r of accepted) await runOk(t, 'delete', `/v1/vms/${r.body.vmId}`);
      const gone = await t.as('operator').delete(`/v1/placement-groups/${g}`);
      assert.equal(gone.status, 200, JSON.stringify(gone.body));
      assert.equal(gone.body.deleted, true);
      const list = await t.as('viewer').get('/v1/placement-groups');
      assert.ok(!(list.body.items as Json[]).some((x) => x.id === g));
    });

    test('soft anti-affinity prefers a free host and breaks when none is left; the evidence says so', async () => {
      const [a, b] = [await host('sa-1', { pool: 'sa' }), await host('sa-2', { pool: 'sa' })];
      const g = await group('cache', 'anti-affinity', false);
      const sel = { placementGroupId: g, hostSelector: { pool: 'sa' } };
      const first = await created({ name: 'cache-1', ...sel });
      const second = await created({ name: 'cache-2', ...sel });
      const third = await created({ name: 'cache-3', ...sel });
      const hostsOf = await Promise.all([first, second].map(async (id) => (await getVm(t, id)).hostId as string));
      assert.deepEqual(hostsOf.sort(), [a, b].sort());
      assert.ok([a, b].includes((await getVm(t, third)).hostId as string));
      const chosen = (await placedEvidence(third)).find((c) => c.verdict === 'chosen');
      assert.match(chosen?.detail as string, /soft anti-affinity of group cache broken/);
    });

    test('hard affinity keeps members on one host', async () => {
      await host('af-1', { pool: 'af' });
      await host('af-2', { pool: 'af' });
      const g = await group('db', 'affinity', true);
      const ids = [];
      for (let i = 0; i < 3; i++)
        ids.push(await created({ name: `db-${i}`, placementGroupId: g, hostSelector: { pool: 'af' } }));
      const where = new Set(await Promise.all(ids.map(async (id) => (await getVm(t, id)).hostId as string)));
      assert.equal(where.size, 1);
    });

    test('hostSelector: only matching hosts; none matching → 409 naming every host and why, nothing appended', async () => {
      const za = await host('zone-a', { pool: 'sel', zone: 'a' });
      await host('zone-b', { pool: 'sel', zone: 'b' });
      const vm = await created({ name: 'sel-1', hostSelector: { pool: 'sel', zone: 'a' } });
      assert.equal((await getVm(t, vm)).hostId, za);
      const before = await settledLogLength(t);
      const res = await create({ name: 'sel-2', hostSelector: { pool: 'sel', zone: 'c' } });
      assertError(res, 409);
      const mine = (res.body.details.hosts as Json[]).filter((h) => /^zone-/.test(h.name as string));
      assert.deepEqual(mine.map((h) => [h.name, h.reason]).sort(), [
        ['zone-a', 'label zone=a != c'],
        ['zone-b', 'label zone=b != c'],
      ]);
      assert.equal(await logLength(t), before);
      const bad = await create({ name: 'sel-3', hostSelector: { 'Bad Key': 'x' } });
      assertError(bad, 400, /hostSelector\./);
      const badPlacement = await create({ name: 'sel-4', placement: 'random' });
      assertError(badPlacement, 400, 'placement');
      assert.equal(await logLength(t), before);
    });

    test('a refusal names draining hosts and hosts short of memory, each with why', async () => {
      const d = await host('dr-1', { pool: 'dr' });
      await host('dr-2', { pool: 'dr' }, 512);
      await t.as('admin').post(`/v1/hosts/${d}/drain`, {});
      const res = await create({ name: 'dr-vm', memoryMiB: 1024, hostSelector: { pool: 'dr' } });
      assertError(res, 409);
      const mine = (res.body.details.hosts as Json[]).filter((h) => /^dr-/.test(h.name as string));
      assert.deepEqual(mine.map((h) => [h.name, h.reason]).sort(), [
        ['dr-1', 'draining'],
        ['dr-2', 'memory 512 < 1024'],
      ]);
    });

    test('spread picks the emptiest host, pack the fullest that fits; the VM records which', async () => {
      const big = await host('st-big', { pool: 'st' }, 8192);
      const small = await host('st-small', { pool: 'st' }, 2048);
      const spread = await created({ name: 'st-1', hostSelector: { pool: 'st' }, placement: 'spread' });
      assert.equal((await getVm(t, spread)).hostId, big);
      const pack = await created({ name: 'st-2', hostSelector: { pool: 'st' }, placement: 'pack' });
      const packed = await getVm(t, pack);
      assert.equal(packed.hostId, small);
      assert.equal(packed.placement, 'pack');
      const chosen = (await placedEvidence(pack)).find((c) => c.verdict === 'chosen');
      assert.match(chosen?.detail as string, /least \(pack\)/);
    });

    test('migration without a target keeps a hard anti-affinity group; a named target that breaks it is 409', async () => {
      const [m1, m2, m3] = [
        await host('mg-1', { pool: 'mg' }),
        await host('mg-2', { pool: 'mg' }),
        await host('mg-3', { pool: 'mg' }),
      ];
      const g = await group('mig', 'anti-affinity', true);
      const a = await created({ name: 'mig-a', placementGroupId: g, hostSelector: { pool: 'mg' } });
      const b = await created({ name: 'mig-b', placementGroupId: g, hostSelector: { pool: 'mg' } });
      const hostA = (await getVm(t, a)).hostId as string;
      const hostB = (await getVm(t, b)).hostId as string;
      const free = [m1, m2, m3].find((h) => h !== hostA && h !== hostB)!;
      const before = await settledLogLength(t);
      const clash = await t.as('operator').post(`/v1/vms/${a}/migrations`, { targetHostId: hostB, live: true });
      assertError(clash, 409, /anti-affinity: runs mig-b/);
      assert.equal(await logLength(t), before);
      await runOk(t, 'post', `/v1/vms/${a}/migrations`, { live: true });
      assert.equal((await getVm(t, a)).hostId, free, 'the only host without a member');
      // b may now take the host a left (the only one of the pool without a member), and no other.
      await runOk(t, 'post', `/v1/vms/${b}/migrations`, { live: true });
      assert.equal((await getVm(t, b)).hostId, hostA);
    });

    test('an evacuation keeps a hard anti-affinity group: a member goes only where no member runs, else it stays, listed with why', async () => {
      const [e1, e2, e3] = [
        await host('ev-1', { pool: 'ev' }),
        await host('ev-2', { pool: 'ev' }),
        await host('ev-3', { pool: 'ev' }),
      ];
      const g = await group('evac', 'anti-affinity', true);
      const sel = { placementGroupId: g, hostSelector: { pool: 'ev' } };
      const a = await created({ name: 'ev-a', ...sel, hostId: e1 });
      const b = await created({ name: 'ev-b', ...sel, hostId: e2 });
      assert.equal((await getVm(t, a)).hostId, e1);
      assert.equal((await getVm(t, b)).hostId, e2);
      // Every other host of the app is a possible target for a plain VM; for a member only ev-3 is.
      const first = await t.as('admin').post(`/v1/hosts/${e1}/evacuate`, {});
      assert.equal(first.status, 202, JSON.stringify(first.body));
      const op = await waitOperation(t, first.body.operationId as string, 60000);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      assert.equal((await getVm(t, a)).hostId, e3);
      // Now ev-2's member has nowhere to go that keeps the rule (ev-1 drains, ev-3 runs ev-a).
      const second = await t.as('admin').post(`/v1/hosts/${e2}/evacuate`, {});
      const op2 = await waitOperation(t, second.body.operationId as string, 60000);
      assert.equal(op2.status, 'failed', JSON.stringify(op2));
      const notMoved = (op2.result as Json).notMoved as Json[];
      assert.equal(notMoved.length, 1);
      assert.equal(notMoved[0]!.vmId, b);
      assert.match(notMoved[0]!.reason as string, /ev-3 \(.*\): anti-affinity: runs ev-a/);
      assert.match(notMoved[0]!.reason as string, /ev-1 \(.*\): draining/);
      assert.equal((await getVm(t, b)).hostId, e2);
    });

    test('a migration without a target that no host can take: 409 naming every host and why, nothing appended', async () => {
      const big = await host('mt-big', { pool: 'mt' }, 16384);
      const vm = await created({ name: 'mt-vm', memoryMiB: 12288, hostId: big });
      const before = await settledLogLength(t);
      const res = await t.as('operator').post(`/v1/vms/${vm}/migrations`, { live: true });
      assertError(res, 409, /no host can take/);
      const hosts = res.body.details.hosts as Json[];
      const registered = (await t.as('viewer').get('/v1/hosts')).body.items as Json[];
      assert.deepEqual(hosts.map((h) => h.id).sort(), registered.map((h) => h.id).sort(), 'every host is named');
      assert.equal(hosts.find((h) => h.id === big)?.reason, 'the VM is leaving it');
      for (const h of hosts.filter((x) => x.id !== big))
        assert.match(h.reason as string, /^(memory \d+ < 12288|draining)$/, JSON.stringify(h));
      assert.equal(await logLength(t), before);
    });

    test('a placement group of another project reads as missing', async () => {
      const g = await group('scoped', 'anti-affinity', true);
      const res = await t.as('operator').post('/v1/vms', {
        name: 'x',
        vcpus: 1,
        memoryMiB: 64,
        diskGiB: 1,
        placementGroupId: '00000000-0000-4000-8000-000000000000',
      });
      assertError(res, 404, 'placementGroupId');
      const missing = await t.as('viewer').get('/v1/placement-groups/not-a-uuid');
      assertError(missing, 404);
      assert.equal((await t.as('viewer').get(`/v1/placement-groups/${g}`)).status, 200);
    });
  });
