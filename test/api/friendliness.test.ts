/**
 * Issue 17, item 7: what a new user trips over. A body that is not JSON gets a
 * 415 naming the type; validation says what is wrong with a field; a misspelt
 * query parameter is a 400 naming it; lists filter and sort the way a person
 * reads them; a finished operation says it finished; /docs loads over plain
 * HTTP; the live feed starts at the end, filters, and reaches onmessage.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get as httpGet, type ClientRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { logLength, settledLogLength, startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { assertError, createVmOp, registerSimHost, runOk, type Json } from '../support/e2e.js';
import { waitFor } from '../support/wait.js';

interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

/** A raw SSE connection keeping every frame, unnamed ones included. */
function openFeed(port: number, path: string): { frames: Frame[]; close: () => void; ready: Promise<void> } {
  const frames: Frame[] = [];
  let req: ClientRequest;
  const ready = new Promise<void>((resolve, reject) => {
    req = httpGet({ host: '127.0.0.1', port, path, headers: { Authorization: `Bearer ${TOKENS.auditor}` } }, (res) => {
      assert.equal(res.statusCode, 200);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame: Frame = {};
          for (const line of buf.slice(0, i).split('\n')) {
            const m = /^(id|event|data): ?(.*)$/.exec(line);
            if (m) frame[m[1] as keyof Frame] = m[2];
          }
          buf = buf.slice(i + 2);
          if (frame.data !== undefined) frames.push(frame);
        }
      });
      res.on('error', () => undefined);
      resolve();
    });
    req.on('error', reject);
  });
  return { frames, close: () => req.destroy(), ready };
}

const typeOf = (f: Frame) => (JSON.parse(f.data!) as Json).type as string;

describe('e2e: friendliness (issue 17 item 7)', () => {
  let t: TestApp;
  let port: number;
  let hostA: Json;
  let hostB: Json;
  let web: string;
  let db: string;
  let gone: string;
  let broken: { vmId: string; operation: Json };

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    hostA = await registerSimHost(t, 'fr-a');
    hostB = await registerSimHost(t, 'fr-b');
    const bad = await registerSimHost(t, 'fr-bad', 'simulated://?failureRate=1&failVerbs=define');
    web = (await createVmOp(t, { name: 'web', hostId: hostA.id })).accepted.vmId;
    db = (await createVmOp(t, { name: 'db', hostId: hostB.id })).accepted.vmId;
    await runOk(t, 'post', `/v1/vms/${db}/stop`);
    gone = (await createVmOp(t, { name: 'gone', hostId: hostA.id })).accepted.vmId;
    await runOk(t, 'delete', `/v1/vms/${gone}`);
    const b = await createVmOp(t, { name: 'broken', hostId: bad.id });
    broken = { vmId: b.accepted.vmId, operation: b.operation };
  });
  after(async () => {
    await t?.close();
  });

  describe('415 for a body that is not JSON', () => {
    const good = JSON.stringify({ name: 'x', vcpus: 1, memoryMiB: 64, diskGiB: 1 });

    for (const [what, type] of [
      ['text/plain', 'text/plain'],
      ['a form', 'application/x-www-form-urlencoded'],
      ['no Content-Type', undefined],
    ] as const) {
      test(`POST /v1/vms with ${what}: 415 naming application/json, nothing appended`, async () => {
        // The setup's last events still cause appends (the failed create's capacity released): count after them.
        const before = await settledLogLength(t);
        let req = t.http().post('/v1/vms').set('Authorization', `Bearer ${TOKENS.operator}`);
        if (type) req = req.set('Content-Type', type);
        const res = await req.send(Buffer.from(good));
        assertError(res, 415);
        assert.match(res.body.message as string, /application\/json/);
        assert.equal(await logLength(t), before);
      });
    }

    test('application/json with a charset is JSON; a POST with no body at all still needs no type', async () => {
      const res = await t
        .http()
        .post(`/v1/vms/${db}/start`)
        .set('Authorization', `Bearer ${TOKENS.operator}`)
        .set('Content-Type', 'application/json; charset=utf-8')
        .send('{"reason":"charset"}');
      assert.equal(res.status, 202, JSON.stringify(res.body));
      await waitFor(async () => (await t.as('viewer').get(`/v1/vms/${db}`)).body.pendingOperation === null, {
        what: 'the start to finish',
      });
      const bare = await t.http().post(`/v1/vms/${db}/stop`).set('Authorization', `Bearer ${TOKENS.operator}`);
      assert.equal(bare.status, 202, JSON.stringify(bare.body));
      await waitFor(async () => (await t.as('viewer').get(`/v1/vms/${db}`)).body.state === 'stopped', {
        what: 'the stop to finish',
      });
    });
  });

  describe('validation messages say what is wrong', () => {
    test('a missing field "is required", and only that', async () => {
      const res = await t.as('operator').post('/v1/vms', { vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      assertError(res, 400, 'name');
      assert.deepEqual(res.body.details, [{ field: 'name', errors: ['name is required'] }]);
      assert.equal(res.body.message, 'name is required');
    });

    test('a wrong type: "must be an integer, got string" (no range rules); a fraction names the value', async () => {
      const s = await t.as('operator').post('/v1/vms', { name: 'x', vcpus: '2', memoryMiB: 64, diskGiB: 1 });
      assert.deepEqual(s.body.details, [{ field: 'vcpus', errors: ['vcpus must be an integer, got string'] }]);
      const f = await t.as('operator').post('/v1/vms', { name: 'x', vcpus: 1.5, memoryMiB: null, diskGiB: 1 });
      assert.deepEqual(f.body.details, [
        { field: 'vcpus', errors: ['vcpus must be an integer, got 1.5'] },
        { field: 'memoryMiB', errors: ['memoryMiB must be an integer, got null'] },
      ]);
      const b = await t.as('operator').post(`/v1/vms/${web}/stop`, { force: 'yes' });
      assert.deepEqual(b.body.details, [{ field: 'force', errors: ['force must be a boolean, got string'] }]);
    });

    test('a value of the right type out of range still says which rule it broke', async () => {
      const res = await t.as('operator').post('/v1/vms', { name: 'x', vcpus: 0, memoryMiB: 64, diskGiB: 1 });
      assertError(res, 400, 'vcpus');
      assert.match(res.body.message as string, /vcpus must not be less than 1/);
    });
  });

  describe('unknown query parameters → 400 naming them', () => {
    for (const path of [
      '/v1/vms?staus=running',
      '/v1/operations?vmid=x',
      '/v1/hosts?foo=1',
      '/v1/events?limit=1&bogus=1',
      '/health?verbose=1',
    ]) {
      test(`GET ${path}`, async () => {
        const res = await t.as('admin').get(path);
        const name = /[?&](staus|vmid|foo|bogus|verbose)=/.exec(path)![1]!;
        assertError(res, 400, name);
        assert.match(res.body.message as string, /unknown query parameter/);
      });
    }

    test('on a command too: refused before anything is appended; auth is still checked first', async () => {
      const before = await settledLogLength(t);
      const res = await t.as('operator').post(`/v1/vms/${web}/stop?force=true`, {});
      assertError(res, 400, 'force');
      assert.equal(await logLength(t), before);
      const anon = await t.http().get('/v1/vms?staus=running');
      assertError(anon, 401);
    });

    test('known parameters, and ones a route reads, still work', async () => {
      assert.equal((await t.as('viewer').get('/v1/vms?limit=5&cursor=0')).status, 200);
      assert.equal((await t.as('viewer').get(`/v1/vms/${web}?revision=1`)).status, 200);
    });
  });

  describe('lists', () => {
    test('GET /v1/vms hides deleted VMs unless asked; filters by state, hostId and name; names the host', async () => {
      const ids = async (q: string) => {
        const res = await t.as('viewer').get(`/v1/vms${q}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return (res.body.items as Json[]).map((v) => v.id as string);
      };
      assert.deepEqual(await ids(''), [web, db, broken.vmId]);
      assert.deepEqual(await ids('?includeDeleted=true'), [web, db, gone, broken.vmId]);
      assert.deepEqual(await ids('?state=deleted'), [gone]);
      assert.deepEqual(await ids('?state=running'), [web]);
      assert.deepEqual(await ids('?state=running,stopped'), [web, db]);
      assert.deepEqual(await ids(`?hostId=${hostB.id}`), [db]);
      assert.deepEqual(await ids(`?hostId=${hostA.id}&includeDeleted=true`), [web, gone]);
      assert.deepEqual(await ids('?name=db'), [db]);
      assert.deepEqual(await ids('?name=nope'), []);
      assert.deepEqual(await ids('?limit=1&cursor=1'), [db], 'pages count only what the filter keeps');
      const listed = (await t.as('viewer').get('/v1/vms')).body.items as Json[];
      assert.equal(listed.find((v) => v.id === web)?.hostName, 'fr-a');
      assert.equal(listed.find((v) => v.id === db)?.hostName, 'fr-b');
      const one = (await t.as('viewer').get(`/v1/vms/${db}`)).body as Json;
      assert.deepEqual([one.hostId, one.hostName], [hostB.id, 'fr-b']);
    });

    test('GET /v1/vms: a bad filter is a 400 naming it and the values it takes', async () => {
      const res = await t.as('viewer').get('/v1/vms?state=runing');
      assertError(res, 400, 'state');
      assert.match(res.body.message as string, /running/);
      assertError(await t.as('viewer').get('/v1/vms?includeDeleted=yes'), 400, 'includeDeleted');
      // A repeated parameter reads as a list, like the comma form.
      const both = (await t.as('viewer').get('/v1/vms?state=running&state=stopped')).body.items as Json[];
      assert.deepEqual(
        both.map((v) => v.id),
        [web, db],
      );
    });

    test('GET /v1/operations: newest first, ?status= and ?kind= filters, pages that never repeat', async () => {
      const all = (await t.as('viewer').get('/v1/operations?limit=100')).body.items as Json[];
      const created = all.map((o) => o.createdAt as string);
      assert.deepEqual(created, [...created].sort().reverse(), 'newest first');
      const failed = (await t.as('viewer').get('/v1/operations?status=failed')).body.items as Json[];
      assert.deepEqual(
        failed.map((o) => o.id),
        all.filter((o) => o.status === 'failed').map((o) => o.id),
      );
      assert.ok(failed.length >= 1);
      const kinds = (await t.as('viewer').get('/v1/operations?kind=stop,delete')).body.items as Json[];
      assert.deepEqual(
        kinds.map((o) => o.id),
        all.filter((o) => o.kind === 'stop' || o.kind === 'delete').map((o) => o.id),
      );
      const mine = (await t.as('viewer').get(`/v1/operations?vmId=${db}&kind=stop&status=succeeded`)).body
        .items as Json[];
      assert.ok(mine.length >= 1 && mine.every((o) => o.vmId === db && o.kind === 'stop'));
      // Paging down two at a time while new operations arrive on top: no repeat, no gap.
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${cursor}` : '';
        const page = (await t.as('viewer').get(`/v1/operations?limit=2${q}`)).body as Json;
        seen.push(...(page.items as Json[]).map((o) => o.id as string));
        if (seen.length === 2) await runOk(t, 'post', `/v1/vms/${web}/reboot`);
        cursor = page.next as string | null;
      } while (cursor);
      assert.deepEqual(
        seen,
        all.map((o) => o.id),
      );
      assertError(await t.as('viewer').get('/v1/operations?status=done'), 400, 'status');
      assertError(await t.as('viewer').get('/v1/operations?kind=teleport'), 400, 'kind');
    });

    test("a finished operation's progress says it finished", async () => {
      assert.equal(broken.operation.status, 'failed');
      assert.equal((broken.operation.progress as Json).step, 'failed');
      const ops = (await t.as('viewer').get(`/v1/operations?vmId=${web}`)).body.items as Json[];
      for (const op of ops.filter((o) => o.status === 'succeeded')) {
        assert.equal((op.progress as Json).step, 'done', JSON.stringify(op));
      }
    });
  });

  test('/docs over plain HTTP: no HSTS, no upgrade-insecure-requests', async () => {
    const res = await t.http().get('/docs/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['strict-transport-security'], undefined);
    const csp = String(res.headers['content-security-policy'] ?? '');
    assert.ok(csp.length > 0, 'a CSP is still sent');
    assert.doesNotMatch(csp, /upgrade-insecure-requests/);
  });

  describe('SSE', () => {
    test('?fromPosition=end sends only new events; each also arrives unnamed for onmessage', async () => {
      const head = (await t.runtime.store!.headPosition())!;
      const feed = openFeed(port, '/v1/events/stream?fromPosition=end');
      await feed.ready;
      // Nothing old comes: wait until the stream is subscribed by seeing the first new event.
      await runOk(t, 'post', `/v1/vms/${web}/pause`);
      await waitFor(() => feed.frames.some((f) => f.event === 'VmPaused'), { what: 'VmPaused on the feed' });
      feed.close();
      const named = feed.frames.filter((f) => f.event !== undefined);
      assert.ok(
        named.every((f) => BigInt(f.id!) > head),
        `only events after the head (${head}) when the feed opened: ${named.map((f) => f.id).join(',')}`,
      );
      assert.ok(named.some((f) => f.event === 'VmPauseRequested'));
      const unnamed = feed.frames.filter((f) => f.event === undefined);
      assert.deepEqual(
        unnamed.map((f) => f.data),
        named.slice(0, unnamed.length).map((f) => f.data),
        'every named event is followed by the same data, unnamed',
      );
      assert.ok(unnamed.length >= named.length - 1);
      await runOk(t, 'post', `/v1/vms/${web}/resume`);
    });

    test('?vmId= and ?type= (a comma list) narrow the feed', async () => {
      const byVm = openFeed(port, `/v1/events/stream?vmId=${db}`);
      const byType = openFeed(port, '/v1/events/stream?type=VmStarted,VmStopped');
      await Promise.all([byVm.ready, byType.ready]);
      await runOk(t, 'post', `/v1/vms/${db}/start`);
      await waitFor(
        () =>
          byVm.frames.filter((f) => f.event === 'VmStarted').length >= 2 &&
          byType.frames.filter((f) => f.event === 'VmStarted').length >= 3,
        { what: 'the start on both feeds' },
      );
      byVm.close();
      byType.close();
      for (const f of byVm.frames) assert.equal((JSON.parse(f.data!) as Json).streamId, `vm-${db}`);
      assert.ok(byType.frames.every((f) => ['VmStarted', 'VmStopped'].includes(typeOf(f))));
      assertError(await t.as('auditor').get('/v1/events/stream?type=not%20a%20type'), 400, 'type');
      assertError(await t.as('auditor').get('/v1/events/stream?fromPosition=start'), 400, 'fromPosition');
    });
  });
});
