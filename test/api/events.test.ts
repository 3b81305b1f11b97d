/**
 * The audit surface: a VM's history with full metadata and a linked hash
 * chain, the global log paged and streamed (SSE), verification, and the
 * operational endpoints (/health, /metrics, /docs).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { GENESIS_HASH } from '../../src/eventstore/hash-chain.js';
import { logLength, startTestApp, type TestApp } from '../support/app.js';
import {
  assertError,
  assertHasKeys,
  createVmOp,
  EVENT_KEYS,
  META_KEYS,
  readSse,
  registerSimHost,
  runOk,
  storeEvents,
  vmEvents,
  type Json,
} from '../support/e2e.js';

describe('e2e: events, audit and operations endpoints', () => {
  let t: TestApp;
  let vmId: string;
  /** operation id → kind, for every operation run on the VM. */
  const ops = new Map<string, string>();

  before(async () => {
    t = await startTestApp();
    await registerSimHost(t, 'hv-1');
    await registerSimHost(t, 'hv-2');
    const created = await createVmOp(t, { name: 'audited' });
    assert.equal(created.operation.status, 'succeeded');
    vmId = created.accepted.vmId;
    ops.set(created.accepted.operationId, 'create');
    const steps: Array<[string, 'post' | 'delete', string, object?]> = [
      ['stop', 'post', 'stop', { reason: 'maintenance window' }],
      ['start', 'post', 'start'],
      ['reboot', 'post', 'reboot'],
      ['pause', 'post', 'pause'],
      ['resume', 'post', 'resume'],
      ['snapshot', 'post', 'snapshots', { name: 's1' }],
      ['revert', 'post', 'snapshots/s1/revert'],
      ['deleteSnapshot', 'delete', 'snapshots/s1'],
    ];
    for (const [kind, method, path, body] of steps) {
      const r = await runOk(t, method, `/v1/vms/${vmId}/${path}`, body);
      ops.set(r.accepted.operationId, kind);
    }
    const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
    const hosts = await t.as('viewer').get('/v1/hosts');
    const targetId = (hosts.body.items as Json[]).find((h) => h.id !== vm.body.hostId)!.id as string;
    const mig = await runOk(t, 'post', `/v1/vms/${vmId}/migrations`, { targetHostId: targetId });
    ops.set(mig.accepted.operationId, 'migrate');
    const del = await runOk(t, 'delete', `/v1/vms/${vmId}?reason=decommissioned`);
    ops.set(del.accepted.operationId, 'delete');
  });
  after(async () => {
    await t?.close();
  });

  test('GET /v1/vms/{id}/events: every step, with principal, correlationId, causationId, at, schema and a linked hash chain', async () => {
    const events = await vmEvents(t, vmId);
    assert.ok(events.length >= 30, `expected the whole history, got ${events.length}`);

    const requestTypes: Record<string, string> = {
      create: 'VmCreateRequested',
      stop: 'VmStopRequested',
      start: 'VmStartRequested',
      reboot: 'VmRebootRequested',
      pause: 'VmPauseRequested',
      resume: 'VmResumeRequested',
      snapshot: 'VmSnapshotRequested',
      revert: 'VmSnapshotRevertRequested',
      deleteSnapshot: 'VmSnapshotDeleteRequested',
      migrate: 'VmMigrationRequested',
      delete: 'VmDeleteRequested',
    };
    const resultTypes: Record<string, string> = {
      create: 'VmStarted',
      stop: 'VmStopped',
      start: 'VmStarted',
      reboot: 'VmRebooted',
      pause: 'VmPaused',
      resume: 'VmResumed',
      snapshot: 'VmSnapshotTaken',
      revert: 'VmSnapshotReverted',
      deleteSnapshot: 'VmSnapshotDeleted',
      migrate: 'VmMigrated',
      delete: 'VmDeleted',
    };

    let prevHash = GENESIS_HASH;
    let prevAt = 0;
    for (const [i, e] of events.entries()) {
      assertHasKeys(e, EVENT_KEYS, 'event');
      assertHasKeys(e.metadata as Json, META_KEYS, `metadata of ${e.type}`);
      assert.equal(e.streamId, `vm-${vmId}`);
      assert.equal(e.revision, i, 'revisions are 0-based and contiguous');
      const m = e.metadata as Json;
      assert.equal(m.prevHash, prevHash, `prevHash of revision ${i} (${e.type}) must be the hash of revision ${i - 1}`);
      assert.match(m.hash as string, /^[0-9a-f]{64}$/);
      assert.notEqual(m.hash, m.prevHash);
      prevHash = m.hash as string;
      assert.match(m.principal as string, /^operator#/, `${e.type} principal`);
      assert.ok(
        ops.has(m.correlationId as string),
        `${e.type} correlationId ${m.correlationId} is none of the operations`,
      );
      assert.equal(m.correlationId, e.data.operationId, `${e.type}: correlationId = the operation id`);
      assert.equal(typeof m.causationId, 'string');
      assert.ok((m.causationId as string).length > 0);
      assert.equal(m.schema, e.type === 'VmMigrated' ? 2 : 1, `${e.type} schema`);
      const at = Date.parse(m.at as string);
      assert.ok(!Number.isNaN(at), `${e.type} at ${m.at}`);
      assert.ok(at >= prevAt, 'at never goes backwards within a stream');
      prevAt = at;
    }

    // Every operation: its request (caused by the HTTP call), a worker pickup and its result, in that order.
    for (const [opId, kind] of ops) {
      const mine = events.filter((e) => e.metadata.correlationId === opId);
      const types = mine.map((e) => e.type);
      const req = mine[0]!;
      assert.equal(req.type, requestTypes[kind], `${kind}: first event`);
      assert.equal(req.metadata.causationId, `http:${opId}`, `${kind}: the request is caused by the HTTP command`);
      assert.ok(types.includes('VmOperationRunning'), `${kind}: ${types.join(',')}`);
      assert.equal(types[types.length - 1], resultTypes[kind], `${kind}: last event of ${types.join(',')}`);
      assert.equal(types.filter((x) => x === resultTypes[kind]).length, 1, `${kind}: exactly one result`);
      // Events after the request are caused by an earlier event or job, never by nothing.
      for (const e of mine.slice(1)) assert.notEqual(e.metadata.causationId, `http:${opId}`, `${e.type} causation`);
    }

    // Saga steps name the event that caused them.
    const created = events.find((e) => e.type === 'VmCreateRequested')!;
    const placed = events.find((e) => e.type === 'VmPlaced')!;
    assert.equal(placed.metadata.causationId, created.id);

    // The reasons given by callers are kept.
    assert.equal(events.find((e) => e.type === 'VmStopRequested')!.metadata.reason, 'maintenance window');
    assert.equal(events.find((e) => e.type === 'VmDeleteRequested')!.metadata.reason, 'decommissioned');

    // The API's view is the store's record.
    const stored = (await storeEvents(t)).filter((e) => e.streamId === `vm-${vmId}`);
    assert.deepEqual(
      events.map((e) => [e.id, e.type, e.metadata.hash, e.position]),
      stored.map((e) => [e.id, e.type, e.metadata.hash, e.position.toString()]),
    );

    // Paging the history with limit/fromRevision yields the same events.
    const paged: Json[] = [];
    let from = '0';
    for (;;) {
      const res = await t.as('auditor').get(`/v1/vms/${vmId}/events?fromRevision=${from}&limit=7`);
      assert.equal(res.status, 200);
      assert.ok((res.body.items as Json[]).length <= 7);
      paged.push(...(res.body.items as Json[]));
      if (res.body.next === null) break;
      from = res.body.next as string;
    }
    assert.deepEqual(
      paged.map((e) => e.id),
      events.map((e) => e.id),
    );

    assertError(await t.as('auditor').get('/v1/vms/00000000-0000-4000-8000-000000000000/events'), 404);
  });

  test('GET /v1/events?fromPosition=&limit= pages cover the whole log exactly once', async () => {
    const total = await logLength(t);
    const stored = await storeEvents(t);
    assert.equal(stored.length, total);
    const seen: string[] = [];
    let next: string | null = '0';
    let pages = 0;
    while (next !== null) {
      const res = await t.as('auditor').get(`/v1/events?fromPosition=${next}&limit=9`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const items = res.body.items as Json[];
      assert.ok(items.length <= 9);
      for (const e of items) {
        assertHasKeys(e, EVENT_KEYS, 'event');
        assert.equal(typeof e.position, 'string');
        seen.push(e.position as string);
      }
      if (res.body.next !== null) assert.equal(items.length, 9, 'only the last page may be short');
      next = res.body.next as string | null;
      pages++;
      assert.ok(pages < 1000, 'paging does not terminate');
    }
    assert.equal(seen.length, total, 'every event once');
    assert.equal(new Set(seen).size, total, 'no event twice');
    assert.deepEqual(
      seen,
      stored.map((e) => e.position.toString()),
      'in log order',
    );

    // Without fromPosition: the first page.
    const first = await t.as('auditor').get('/v1/events?limit=3');
    assert.deepEqual(
      (first.body.items as Json[]).map((e) => e.position),
      seen.slice(0, 3),
    );
    // fromPosition is inclusive.
    const mid = await t.as('auditor').get(`/v1/events?fromPosition=${seen[5]}&limit=2`);
    assert.deepEqual(
      (mid.body.items as Json[]).map((e) => e.position),
      seen.slice(5, 7),
    );
    // Past the head: an empty last page.
    const end = await t.as('auditor').get(`/v1/events?fromPosition=${BigInt(seen[seen.length - 1]!) + 1n}`);
    assert.deepEqual(end.body, { items: [], next: null });
  });

  test('GET /v1/events/stream (SSE) delivers the log as id:/data: frames, and resumes after Last-Event-ID / fromPosition', async () => {
    const stored = await storeEvents(t);
    const sse = await readSse(t, '/v1/events/stream', 5);
    assert.equal(sse.status, 200);
    assert.match(sse.contentType, /^text\/event-stream/);
    assert.equal(sse.frames.length, 5);
    for (const [i, f] of sse.frames.entries()) {
      const e = JSON.parse(f.data!) as Json;
      assert.equal(f.id, stored[i]!.position.toString(), 'id: is the global position');
      assert.equal(e.position, f.id);
      assert.equal(f.event, stored[i]!.type, 'event: is the event type');
      assert.equal(e.id, stored[i]!.id);
      assert.equal(e.type, stored[i]!.type);
      assert.equal(e.metadata.hash, stored[i]!.metadata.hash);
    }

    const from = stored[10]!.position.toString();
    const resumed = await readSse(t, `/v1/events/stream?fromPosition=${from}`, 3);
    assert.deepEqual(
      resumed.frames.map((f) => f.id),
      stored.slice(10, 13).map((e) => e.position.toString()),
    );

    // A reconnecting client sends Last-Event-ID and gets what follows it, nothing twice.
    const reconnect = await readSse(t, '/v1/events/stream', 3, 'auditor', { 'Last-Event-ID': sse.frames[4]!.id! });
    assert.deepEqual(
      reconnect.frames.map((f) => f.id),
      stored.slice(5, 8).map((e) => e.position.toString()),
    );

    // A live event reaches an open stream: start reading after the head, then append.
    const head = stored[stored.length - 1]!.position;
    const live = readSse(t, `/v1/events/stream?fromPosition=${head + 1n}`, 1);
    const reg = await t.as('admin').post('/v1/hosts', {
      name: 'hv-live',
      driver: 'simulated',
      uri: 'simulated://',
      capacity: { vcpus: 1, memoryMiB: 64 },
    });
    assert.equal(reg.status, 201);
    const got = await live;
    assert.equal(got.frames.length, 1);
    const liveEvent = JSON.parse(got.frames[0]!.data!) as Json;
    assert.equal(liveEvent.type, 'HostRegistered');
    assert.equal(liveEvent.streamId, `host-${reg.body.id}`);

    // Viewers and operators may not read the global feed.
    const denied = await readSse(t, '/v1/events/stream', 1, 'viewer');
    assert.equal(denied.status, 403);
  });

  test('GET /v1/audit/verify: the whole log and one VM verify', async () => {
    const all = await t.as('auditor').get('/v1/audit/verify');
    assert.equal(all.status, 200);
    assert.equal(all.body.verified, true, JSON.stringify(all.body));
    assert.equal(all.body.firstBreak, null);
    assert.equal(all.body.count, await logLength(t));

    const one = await t.as('auditor').get(`/v1/audit/verify?vmId=${vmId}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.verified, true);
    assert.equal(one.body.firstBreak, null);
    assert.equal(one.body.count, (await vmEvents(t, vmId)).length);
  });

  test('GET /health: 200 with redis and store up (no token needed)', async () => {
    const res = await t.http().get('/health');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'ok');
    assert.equal(res.body.details.redis.status, 'up');
    assert.equal(res.body.details.store.status, 'up');
    assert.equal(res.body.details.store.kind, 'sqlite');
  });

  test('GET /metrics: Prometheus text with virtledger_commands_total', async () => {
    const res = await t.http().get('/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.text, /# TYPE virtledger_commands_total counter/);
    assert.match(res.text, /virtledger_commands_total\{command="CreateVm",outcome="accepted"\} [1-9]/);
  });

  test('GET /docs and /docs-json serve the OpenAPI description of v1', async () => {
    const json = await t.http().get('/docs-json');
    assert.equal(json.status, 200);
    assert.match(String(json.body.openapi), /^3\./);
    for (const p of ['/v1/vms', '/v1/vms/{id}', '/v1/hosts', '/v1/operations/{id}', '/v1/events', '/v1/audit/verify']) {
      assert.ok(json.body.paths[p], `${p} missing from the OpenAPI paths`);
    }
    const html = await t.http().get('/docs');
    assert.equal(html.status, 200);
    assert.match(html.text, /swagger/i);
  });

  // Last: it rewrites history behind the app's back.
  test('GET /v1/audit/verify reports the first break when a stored event was altered', async () => {
    const events = await vmEvents(t, vmId);
    const victim = events.find((e) => e.type === 'VmStopRequested')!;
    const db = new Database(join(t.dataDir, 'events.sqlite3'));
    try {
      const changed = db
        .prepare('UPDATE events SET data = ? WHERE id = ?')
        .run(JSON.stringify({ ...victim.data, force: !victim.data.force }), victim.id);
      assert.equal(changed.changes, 1);
    } finally {
      db.close();
    }
    const one = await t.as('auditor').get(`/v1/audit/verify?vmId=${vmId}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.verified, false);
    assert.equal(one.body.firstBreak.streamId, `vm-${vmId}`);
    assert.equal(one.body.firstBreak.revision, victim.revision);
    assert.equal(one.body.firstBreak.found, victim.metadata.hash);
    assert.notEqual(one.body.firstBreak.expected, victim.metadata.hash);

    const all = await t.as('auditor').get('/v1/audit/verify');
    assert.equal(all.body.verified, false);
    assert.deepEqual(all.body.firstBreak, one.body.firstBreak);
  });
});
