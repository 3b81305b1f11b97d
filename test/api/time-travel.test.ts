/**
 * Auditors travel in time (issue 4, point 2): a VM or a host as it was at a past
 * instant or revision, and the field-by-field diff of a VM between two points,
 * each change with the event that made it. The past views are checked against
 * what the live read model showed at that moment, on SQLite and PostgreSQL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { logLength, settledLogLength, type TestApp } from '../support/app.js';
import { startAppOn, STORE_KINDS } from '../support/store-kinds.js';
import { instantBetween } from '../support/wait.js';
import {
  assertError,
  createVmOp,
  getHost,
  getVm,
  registerSimHost,
  runOk,
  vmEvents,
  waitSettled,
  type Json,
} from '../support/e2e.js';

const UNKNOWN_VM = '00000000-0000-4000-8000-000000000000';

interface Mark {
  label: string;
  /** What the live read model answered once the app had settled. */
  view: Json;
  /** An instant after that answer and before anything else happened. */
  at: string;
}

for (const { store, skip } of STORE_KINDS) {
  describe(`e2e: time travel (${store})`, { skip }, () => {
    let t: TestApp;
    let close: () => Promise<void>;
    let vmId: string;
    let hostA: string;
    let hostB: string;
    let migrateOp: string;
    const vmMarks: Mark[] = [];
    const hostMarks = new Map<string, Mark[]>();
    let events: Json[];
    /** views[r] = GET /v1/vms/{id}?revision=r, filled by the per-revision test. */
    const views: Json[] = [];

    async function mark(label: string): Promise<void> {
      await waitSettled(t, [hostA, hostB]);
      if (vmId) vmMarks.push({ label, view: await getVm(t, vmId), at: '' });
      for (const h of [hostA, hostB]) {
        if (!hostMarks.has(h)) hostMarks.set(h, []);
        hostMarks.get(h)!.push({ label, view: await getHost(t, h), at: '' });
      }
      const at = await instantBetween();
      if (vmId) vmMarks[vmMarks.length - 1]!.at = at;
      for (const marks of hostMarks.values()) marks[marks.length - 1]!.at = at;
    }

    before(async () => {
      ({ t, close } = await startAppOn(store));
      hostA = (await registerSimHost(t, 'tt-a')).id as string;
      hostB = (await registerSimHost(t, 'tt-b')).id as string;
      await mark('hosts registered');
      const created = await createVmOp(t, { name: 'tt-vm', vcpus: 1, memoryMiB: 64, hostId: hostA });
      assert.equal(created.operation.status, 'succeeded', JSON.stringify(created.operation));
      vmId = created.accepted.vmId;
      await mark('created');
      await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 's1' });
      await mark('snapshot s1');
      await runOk(t, 'post', `/v1/vms/${vmId}/stop`, { reason: 'maintenance window' });
      await mark('stopped');
      await runOk(t, 'post', `/v1/vms/${vmId}/start`);
      await mark('started');
      migrateOp = (await runOk(t, 'post', `/v1/vms/${vmId}/migrations`, { targetHostId: hostB, live: true }, 'admin'))
        .accepted.operationId;
      await mark('migrated');
      await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 's2' });
      await runOk(t, 'delete', `/v1/vms/${vmId}/snapshots/s1`);
      await mark('s2 taken, s1 deleted');
      events = await vmEvents(t, vmId);
    });
    after(async () => {
      await close?.();
    });

    test('the fixture went through distinct states (so equal answers below mean something)', () => {
      assert.deepEqual(
        vmMarks.map((m) => [m.view.state, m.view.hostId === hostA ? 'A' : 'B', m.view.snapshots.length]),
        [
          ['running', 'A', 0],
          ['running', 'A', 1],
          ['stopped', 'A', 1],
          ['running', 'A', 1],
          ['running', 'B', 1],
          ['running', 'B', 1],
        ],
      );
      assert.equal(new Set(vmMarks.map((m) => m.view.revision)).size, vmMarks.length);
    });

    test('GET /v1/vms/{id}?revision= and ?at= give exactly what the live read model showed then', async () => {
      for (const m of vmMarks) {
        const byRevision = await t.as('viewer').get(`/v1/vms/${vmId}?revision=${m.view.revision}`);
        assert.equal(byRevision.status, 200, JSON.stringify(byRevision.body));
        assert.deepEqual(byRevision.body, m.view, `${m.label}: ?revision=${m.view.revision}`);
        assert.equal(byRevision.headers.etag, `"${m.view.revision}"`);
        const byTime = await t.as('viewer').get(`/v1/vms/${vmId}?at=${encodeURIComponent(m.at)}`);
        assert.equal(byTime.status, 200, JSON.stringify(byTime.body));
        assert.deepEqual(byTime.body, m.view, `${m.label}: ?at=${m.at}`);
        assert.equal(byTime.headers.etag, `"${m.view.revision}"`);
      }
    });

    test('every revision r: the stream folded to r; ?at=<time of an event> includes every event recorded at that instant', async () => {
      assert.ok(events.length > 20, `a long enough history: ${events.length}`);
      for (const e of events) {
        const r = e.revision as number;
        const res = await t.as('viewer').get(`/v1/vms/${vmId}?revision=${r}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.revision, r);
        assert.equal(res.body.createdAt, events[0]!.metadata.at);
        assert.equal(res.body.updatedAt, e.metadata.at);
        views[r] = res.body as Json;
      }
      for (const e of events) {
        const at = e.metadata.at as string;
        const expected = Math.max(
          ...events.filter((x) => Date.parse(x.metadata.at) <= Date.parse(at)).map((x) => x.revision),
        );
        const res = await t.as('viewer').get(`/v1/vms/${vmId}?at=${encodeURIComponent(at)}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(res.body, views[expected], `?at=${at} is revision ${expected}`);
        // The same instant written with another offset is the same instant.
        const shifted = new Date(Date.parse(at) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
        const res2 = await t.as('viewer').get(`/v1/vms/${vmId}?at=${encodeURIComponent(shifted)}`);
        assert.deepEqual(res2.body, views[expected], `?at=${shifted}`);
      }
      // The latest revision is the live VM.
      assert.deepEqual(views[views.length - 1], await getVm(t, vmId));
    });

    test('?at before the VM existed, or ?revision past its head → 404 saying so; an unknown VM → 404; nothing appended', async () => {
      const n = await settledLogLength(t);
      const created = events[0]!.metadata.at as string;
      const before = new Date(Date.parse(created) - 1).toISOString();
      const early = await t.as('viewer').get(`/v1/vms/${vmId}?at=${encodeURIComponent(before)}`);
      assertError(early, 404, `did not exist yet at ${before}: it was created at ${created}`);
      assertError(await t.as('viewer').get(`/v1/vms/${vmId}?at=2000-01-01`), 404, /did not exist yet/);
      const head = events.length - 1;
      assertError(
        await t.as('viewer').get(`/v1/vms/${vmId}?revision=${head + 1}`),
        404,
        `has no revision ${head + 1}: its latest revision is ${head}`,
      );
      assertError(await t.as('viewer').get(`/v1/vms/${UNKNOWN_VM}?at=2030-01-01T00:00:00Z`), 404, 'not found');
      assertError(await t.as('viewer').get(`/v1/vms/${UNKNOWN_VM}?revision=0`), 404, 'not found');
      assert.equal(await logLength(t), n);
    });

    test('bad ?at / ?revision, or both → 400 naming the field; nothing appended', async () => {
      const n = await settledLogLength(t);
      const cases: Array<[string, string]> = [
        ['at=yesterday', 'at'],
        ['at=2030-01-01T10:00:00', 'at'], // no zone: which 10:00?
        ['at=2024-02-30T00:00:00Z', 'at'],
        ['at=', 'at'],
        ['at=2030-01-01T00:00:00Z&at=2030-01-02T00:00:00Z', 'at'],
        ['revision=-1', 'revision'],
        ['revision=1.5', 'revision'],
        ['revision=latest', 'revision'],
        ['at=2030-01-01T00:00:00Z&revision=3', 'revision'],
      ];
      for (const [q, field] of cases) {
        const res = await t.as('viewer').get(`/v1/vms/${vmId}?${q}`);
        assertError(res, 400, field);
        assert.ok(
          (res.body.details as Json[]).some((d) => d.field === field),
          `${q}: details name ${field}: ${JSON.stringify(res.body)}`,
        );
      }
      const both = await t.as('viewer').get(`/v1/vms/${vmId}?at=2030-01-01T00:00:00Z&revision=3`);
      assert.match(both.body.message as string, /revision cannot be combined with at/);
      const twoBad = await t.as('viewer').get(`/v1/vms/${vmId}?at=soon&revision=x`);
      assertError(twoBad, 400, 'at');
      assertError(twoBad, 400, 'revision');
      assert.equal(await logLength(t), n);
    });

    test('GET /v1/hosts/{id}?revision= and ?at= give exactly what the live read model showed then', async () => {
      for (const [hostId, marks] of hostMarks) {
        assert.ok(
          new Set(marks.map((m) => JSON.stringify(m.view.allocated))).size > 1,
          `host ${hostId}: its allocation changed over the fixture`,
        );
        for (const m of marks) {
          const byRevision = await t.as('viewer').get(`/v1/hosts/${hostId}?revision=${m.view.revision}`);
          assert.equal(byRevision.status, 200, JSON.stringify(byRevision.body));
          assert.deepEqual(byRevision.body, m.view, `${hostId} ${m.label}: ?revision=${m.view.revision}`);
          assert.equal(byRevision.headers.etag, `"${m.view.revision}"`);
          const byTime = await t.as('viewer').get(`/v1/hosts/${hostId}?at=${encodeURIComponent(m.at)}`);
          assert.equal(byTime.status, 200, JSON.stringify(byTime.body));
          assert.deepEqual(byTime.body, m.view, `${hostId} ${m.label}: ?at=${m.at}`);
        }
      }
      // Host A held the VM until the migration released it.
      const a = hostMarks.get(hostA)!;
      assert.deepEqual(
        a.map((m) => m.view.allocated),
        [
          { vcpus: 0, memoryMiB: 0 },
          { vcpus: 1, memoryMiB: 64 },
          { vcpus: 1, memoryMiB: 64 },
          { vcpus: 1, memoryMiB: 64 },
          { vcpus: 1, memoryMiB: 64 },
          { vcpus: 0, memoryMiB: 0 },
          { vcpus: 0, memoryMiB: 0 },
        ],
      );
    });

    test('hosts: before registration or past the head → 404; unknown host → 404; bad values → 400 naming the field', async () => {
      const n = await settledLogLength(t);
      const registered = hostMarks.get(hostA)![0]!.view.createdAt as string;
      const early = new Date(Date.parse(registered) - 1).toISOString();
      assertError(
        await t.as('viewer').get(`/v1/hosts/${hostA}?at=${encodeURIComponent(early)}`),
        404,
        `did not exist yet at ${early}: it was registered at ${registered}`,
      );
      const head = (await getHost(t, hostA)).revision as number;
      assertError(
        await t.as('viewer').get(`/v1/hosts/${hostA}?revision=${head + 1}`),
        404,
        `has no revision ${head + 1}: its latest revision is ${head}`,
      );
      assertError(await t.as('viewer').get('/v1/hosts/no-such-host?revision=0'), 404, 'host no-such-host not found');
      assertError(await t.as('viewer').get(`/v1/hosts/${hostA}?at=tomorrow`), 400, 'at');
      assertError(await t.as('viewer').get(`/v1/hosts/${hostA}?revision=-2`), 400, 'revision');
      assertError(await t.as('viewer').get(`/v1/hosts/${hostA}?revision=0&at=2030-01-01T00:00:00Z`), 400, 'revision');
      assert.equal(await logLength(t), n);
    });

    /** The changes the revision views imply for one VM view field, as the diff should list them. */
    function expectedChanges(
      field: (v: Json) => unknown,
      from = -1,
      to = events.length - 1,
    ): Array<[number, unknown, unknown]> {
      const out: Array<[number, unknown, unknown]> = [];
      for (let r = from + 1; r <= to; r++) {
        const old = r === 0 ? null : (field(views[r - 1]!) ?? null);
        const now = field(views[r]!) ?? null;
        if (JSON.stringify(old) !== JSON.stringify(now)) out.push([r, old, now]);
      }
      return out;
    }

    const snapshot = (name: string) => (v: Json) => (v.snapshots as Json[]).find((s) => s.name === name) ?? null;
    const got = (items: Json[], path: string) =>
      items.filter((c) => c.path === path).map((c) => [c.event.revision, c.old, c.new] as [number, unknown, unknown]);

    test('GET /v1/vms/{id}/diff (whole history): each field change once per change, in order, with its event', async () => {
      assert.equal(views.length, events.length, 'the per-revision test ran first');
      const res = await t.as('auditor').get(`/v1/vms/${vmId}/diff`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const latest = events.length - 1;
      assert.equal(res.body.vmId, vmId);
      assert.deepEqual(res.body.from, { revision: null, at: null });
      assert.deepEqual(res.body.to, { revision: latest, at: events[latest]!.metadata.at });
      assert.equal(res.body.next, null);
      const items = res.body.items as Json[];

      assert.deepEqual(
        got(items, 'state'),
        expectedChanges((v) => v.state),
      );
      assert.deepEqual(
        got(items, 'hostId'),
        expectedChanges((v) => v.hostId),
      );
      for (const f of ['name', 'vcpus', 'memoryMiB', 'diskGiB'])
        assert.deepEqual(
          got(items, `spec.${f}`),
          expectedChanges((v) => v[f]),
          `spec.${f}`,
        );
      assert.deepEqual(got(items, 'snapshots.s1'), expectedChanges(snapshot('s1')));
      assert.deepEqual(got(items, 'snapshots.s2'), expectedChanges(snapshot('s2')));
      assert.deepEqual(got(items, 'spec.memoryMiB'), [[0, null, 64]]);
      assert.equal(got(items, 'state').length >= 6, true, 'state changed many times');

      // The migration: hostId A → B by VmMigrated, in the admin's migrate operation.
      const moved = items.find((c) => c.path === 'hostId' && c.new === hostB)!;
      assert.equal(moved.old, hostA);
      assert.equal(moved.event.type, 'VmMigrated');
      assert.equal(moved.event.correlationId, migrateOp);
      // A reason given to a command is cited on what its event changed.
      const stopAsked = items.find((c) => c.path === 'pending' && c.new?.kind === 'stop')!;
      assert.equal(stopAsked.event.type, 'VmStopRequested');
      assert.equal(stopAsked.event.reason, 'maintenance window');
      assert.match(stopAsked.event.principal as string, /^operator#/);

      // Every change cites the stored event exactly; revisions never go back.
      let prev = -1;
      for (const c of items) {
        const e = events[c.event.revision as number]!;
        assert.deepEqual(
          {
            id: c.event.id,
            position: c.event.position,
            type: c.event.type,
            at: c.event.at,
            principal: c.event.principal,
            correlationId: c.event.correlationId,
          },
          {
            id: e.id,
            position: e.position,
            type: e.type,
            at: e.metadata.at,
            principal: e.metadata.principal,
            correlationId: e.metadata.correlationId,
          },
        );
        assert.ok(c.event.revision >= prev);
        prev = c.event.revision as number;
        assert.match(c.path as string, /^[A-Za-z]+(\.[A-Za-z0-9._-]+)*$/);
      }
    });

    test('diff ranges: revisions, instants, mixed, defaults, from = to', async () => {
      const all = (await t.as('auditor').get(`/v1/vms/${vmId}/diff`)).body.items as Json[];
      const within = (lo: number, hi: number) =>
        all.filter((c) => (c.event.revision as number) > lo && (c.event.revision as number) <= hi);
      const r = (label: string) => vmMarks.find((m) => m.label === label)!;
      const lo = r('snapshot s1');
      const hi = r('migrated');
      const [loRev, hiRev] = [lo.view.revision as number, hi.view.revision as number];

      const byRev = await t.as('auditor').get(`/v1/vms/${vmId}/diff?from=${loRev}&to=${hiRev}`);
      assert.equal(byRev.status, 200, JSON.stringify(byRev.body));
      assert.deepEqual(byRev.body.items, within(loRev, hiRev));
      assert.ok((byRev.body.items as Json[]).length > 0);
      assert.deepEqual(
        got(byRev.body.items as Json[], 'state'),
        expectedChanges((v) => v.state, loRev, hiRev),
      );
      assert.deepEqual(byRev.body.from, { revision: loRev, at: events[loRev]!.metadata.at });
      assert.deepEqual(byRev.body.to, { revision: hiRev, at: events[hiRev]!.metadata.at });

      const q = (s: string) => encodeURIComponent(s);
      const byTime = await t.as('auditor').get(`/v1/vms/${vmId}/diff?from=${q(lo.at)}&to=${q(hi.at)}`);
      assert.deepEqual(byTime.body, byRev.body, 'instants resolve to the same revisions');
      const mixed = await t.as('auditor').get(`/v1/vms/${vmId}/diff?from=${loRev}&to=${q(hi.at)}`);
      assert.deepEqual(mixed.body, byRev.body);

      const onlyFrom = await t.as('auditor').get(`/v1/vms/${vmId}/diff?from=${hiRev}`);
      assert.deepEqual(onlyFrom.body.items, within(hiRev, events.length - 1), 'to defaults to the latest');
      const onlyTo = await t.as('auditor').get(`/v1/vms/${vmId}/diff?to=${loRev}`);
      assert.deepEqual(onlyTo.body.items, within(-1, loRev), 'from defaults to before the first event');
      assert.deepEqual(onlyTo.body.from, { revision: null, at: null });
      const early = await t.as('auditor').get(`/v1/vms/${vmId}/diff?from=2000-01-01T00:00:00Z&to=${loRev}`);
      assert.deepEqual(early.body, onlyTo.body, 'an instant before the VM existed is the empty state');

      const same = await t.as('auditor').get(`/v1/vms/${vmId}/diff?from=${loRev}&to=${loRev}`);
      assert.equal(same.status, 200);
      assert.deepEqual(same.body.items, []);
      // An operator may read it too (the same roles as the VM's events).
      assert.equal((await t.as('operator').get(`/v1/vms/${vmId}/diff?from=${loRev}`)).status, 200);
    });

    test('OpenAPI documents at/revision on VMs and hosts, and from/to on the diff', async () => {
      const doc = (await t.http().get('/docs-json')).body as Json;
      const params = (path: string) =>
        ((doc.paths[path]?.get?.parameters ?? []) as Json[])
          .filter((p) => p.in === 'query')
          .map((p) => p.name as string);
      assert.deepEqual(params('/v1/vms/{id}').sort(), ['at', 'revision']);
      assert.deepEqual(params('/v1/hosts/{id}').sort(), ['at', 'revision']);
      assert.deepEqual(params('/v1/vms/{id}/diff').sort(), ['from', 'to']);
    });

    test('diff: bad from/to, from after to, past the head → 400 naming the field; unknown VM → 404; viewers 403; nothing appended', async () => {
      const n = await settledLogLength(t);
      const latest = events.length - 1;
      const late = vmMarks[vmMarks.length - 1]!.at;
      const early = vmMarks[1]!.at;
      const cases: Array<[string, string | RegExp]> = [
        ['from=abc', 'from'],
        ['to=2024-02-30T00:00:00Z', 'to'],
        ['from=2030-01-01T10:00:00', 'from'],
        ['from=-1', 'from'],
        ['to=', 'to'],
        ['from=1&from=2', 'from'],
        ['from=5&to=2', /from must not be after to \(revision 5 > 2\)/],
        [`from=${encodeURIComponent(late)}&to=${encodeURIComponent(early)}`, /from must not be after to/],
        [
          `from=${latest}&to=${encodeURIComponent(early)}`,
          /from must not be after to \(revision \d+ > 20\d\d-[\d-]+T[\d:.]+Z, i\.e\. revision \d+\)/,
        ],
        [`to=${latest + 1}`, `to revision ${latest + 1} is past the latest revision ${latest}`],
        [`from=${latest + 5}`, 'from'],
      ];
      for (const [query, field] of cases) {
        const res = await t.as('auditor').get(`/v1/vms/${vmId}/diff?${query}`);
        assertError(res, 400, field);
      }
      assertError(await t.as('auditor').get(`/v1/vms/${UNKNOWN_VM}/diff`), 404, `VM ${UNKNOWN_VM} not found`);
      assertError(await t.as('auditor').get('/v1/vms/not-a-uuid/diff'), 404);
      assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}/diff`)).status, 403);
      assert.equal(await logLength(t), n);
    });
  });
}
