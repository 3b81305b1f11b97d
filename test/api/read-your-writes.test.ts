import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Response } from 'supertest';
import { registerHost, startTestApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';
import { READ_YOUR_WRITES } from '../../src/http/tokens.js';
import type { ReadYourWrites } from '../../src/http/read-your-writes.js';
import type { ProjectionRunner } from '../../src/projections/projection-runner.js';

describe('e2e: an accepted operation is never a 404 while the read model lags', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
    await registerHost(t, { name: 'h1' });
  });
  after(() => t.close());

  test('GET /v1/operations/{id} waits for the lagging read model instead of answering 404', async () => {
    const runner = t.runtime.projection('vms')!;
    let polled: Promise<Response> | undefined;
    let operationId = '';
    // A paused projection is the lag of a loaded machine, made deterministic.
    await runner.paused(async () => {
      const res = await t.as('operator').post('/v1/vms', { name: 'lagged', vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      assert.equal(res.status, 202);
      operationId = res.body.operationId as string;
      const waiting = runner.listenerCount('applied');
      polled = new Promise<Response>((resolve, reject) =>
        t.as('viewer').get(`/v1/operations/${operationId}`).then(resolve, reject),
      );
      // Resumed only once the request waits on the paused projection (it listens for its next event).
      await waitFor(() => runner.listenerCount('applied') > waiting, {
        what: 'the GET to wait on the vms projection',
      });
    });
    const res = await polled!;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.id, operationId);
  });

  test('an id that does not exist is still a 404 naming it, once the read model is caught up', async () => {
    const res = await t.as('viewer').get('/v1/operations/00000000-0000-4000-8000-000000000000');
    assert.equal(res.status, 404);
    assert.match(res.body.message, /operation 00000000-0000-4000-8000-000000000000 not found/);
  });
});

describe('e2e: a read model too far behind to tell says so (503), never a false 404', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ env: { READ_MODEL_WAIT_MS: '300' } });
    await registerHost(t, { name: 'h1' });
  });
  after(() => t.close());

  test('an accepted operation polled while the projection lags past READ_MODEL_WAIT_MS: 503 with Retry-After, then 200', async () => {
    const runner = t.runtime.projection('vms')!;
    let operationId = '';
    let lagging: Response | undefined;
    await runner.paused(async () => {
      const res = await t.as('operator').post('/v1/vms', { name: 'lagged', vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      assert.equal(res.status, 202);
      operationId = res.body.operationId as string;
      lagging = await t.as('viewer').get(`/v1/operations/${operationId}`);
    });
    assert.equal(lagging?.status, 503, JSON.stringify(lagging?.body));
    assert.equal(lagging?.headers['retry-after'], '1');
    assert.match(
      String(lagging?.body.message),
      new RegExp(`operation ${operationId} is not in the read model.*300 ms; retry`),
    );
    const res = await t.as('viewer').get(`/v1/operations/${operationId}?waitMs=5000`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.id, operationId);
    // Caught up, an id nobody issued is a plain 404 again.
    const unknown = await t.as('viewer').get('/v1/operations/00000000-0000-4000-8000-000000000001');
    assert.equal(unknown.status, 404);
  });
});

describe('e2e: read-your-writes on the read side — the 202 does not wait for the read model, the reads that could show it do', () => {
  let t: TestApp;
  let ryw: ReadYourWrites;
  const vm = (name: string, extra: object = {}) => ({ name, vcpus: 1, memoryMiB: 64, diskGiB: 1, ...extra });
  const etag = (res: Response) => {
    const m = /^"(\d+)"$/.exec(String(res.headers.etag));
    assert.ok(m, `an ETag "<revision>": ${String(res.headers.etag)}`);
    return BigInt(m[1]!);
  };

  before(async () => {
    t = await startTestApp();
    await registerHost(t, { name: 'h1' });
    ryw = t.app.get<ReadYourWrites>(READ_YOUR_WRITES);
  });
  after(() => t.close());

  /** Sends `req` and resolves once it waits on the (paused) vms projection. */
  async function waitingOn(
    runner: ProjectionRunner,
    req: () => PromiseLike<Response>,
  ): Promise<{ answer: Promise<Response> }> {
    const listening = runner.listenerCount('applied');
    const res = new Promise<Response>((resolve, reject) => {
      req().then(resolve, reject);
    });
    await waitFor(() => runner.listenerCount('applied') > listening, {
      what: 'the read to wait on the vms projection',
    });
    return { answer: res };
  }

  test('POST then GET: the 202 comes while the projection is paused; the GET waits for it and shows the ETag of the 202', async () => {
    const runner = t.runtime.projection('vms')!;
    let created: Response | undefined;
    let read: { answer: Promise<Response> } | undefined;
    await runner.paused(async () => {
      created = await t.as('operator').post('/v1/vms', vm('ryw-get'));
      assert.equal(created.status, 202, JSON.stringify(created.body));
      assert.deepEqual(Object.keys(created.body).sort(), ['operationId', 'vmId'], 'the body is unchanged');
      // Nobody else's read waits for it: the viewer's list answers now, without the new VM.
      const held = ryw.counts.held;
      const others = await t.as('viewer').get('/v1/vms?name=ryw-get');
      assert.equal(others.status, 200);
      assert.deepEqual(others.body.items, [], 'the read model does not have the VM yet: the 202 did not wait for it');
      assert.equal(ryw.counts.held, held, "another principal's list is not held");
      read = await waitingOn(runner, () => t.as('viewer').get(`/v1/vms/${created!.body.vmId as string}`));
    });
    const res = await read!.answer;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.name, 'ryw-get');
    assert.ok(etag(res) >= etag(created!), `GET ETag ${res.headers.etag} >= the 202's ${created!.headers.etag}`);
  });

  test('a list right after a create contains it, for the principal who created it', async () => {
    const runner = t.runtime.projection('vms')!;
    let vmId = '';
    let listed: { answer: Promise<Response> } | undefined;
    await runner.paused(async () => {
      const created = await t.as('operator').post('/v1/vms', vm('ryw-list'));
      assert.equal(created.status, 202, JSON.stringify(created.body));
      vmId = created.body.vmId as string;
      listed = await waitingOn(runner, () => t.as('operator').get('/v1/vms?name=ryw-list'));
    });
    const res = await listed!.answer;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      (res.body.items as Array<{ id: string }>).map((v) => v.id),
      [vmId],
    );
  });

  test('PATCH (resize) then GET: the GET shows the new size and the ETag of the 202', async () => {
    const created = await t.as('operator').post('/v1/vms', vm('ryw-patch', { start: false }));
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const vmId = created.body.vmId as string;
    const done = await t.as('operator').get(`/v1/operations/${created.body.operationId as string}?waitMs=30000`);
    assert.equal(done.body.status, 'succeeded', JSON.stringify(done.body));
    const before = await t.as('operator').get(`/v1/vms/${vmId}`);
    assert.equal(before.body.state, 'stopped', JSON.stringify(before.body));
    const runner = t.runtime.projection('vms')!;
    let patched: Response | undefined;
    let read: { answer: Promise<Response> } | undefined;
    await runner.paused(async () => {
      patched = await t
        .as('operator')
        .patch(`/v1/vms/${vmId}`, { vcpus: 2 })
        .set('If-Match', String(before.headers.etag));
      assert.equal(patched.status, 202, JSON.stringify(patched.body));
      assert.ok(etag(patched) > etag(before), `the 202's ETag ${patched.headers.etag} is past ${before.headers.etag}`);
      read = await waitingOn(runner, () => t.as('operator').get(`/v1/vms/${vmId}`));
    });
    const res = await read!.answer;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.vcpus, 2, JSON.stringify(res.body));
    assert.ok(etag(res) >= etag(patched!), `GET ETag ${res.headers.etag} >= the 202's ${patched!.headers.etag}`);
    // The 202's ETag is good for If-Match on the next command (it is the store's revision).
    const again = await t
      .as('operator')
      .patch(`/v1/vms/${vmId}`, { restartPolicy: 'always' })
      .set('If-Match', String(res.headers.etag));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.restartPolicy, 'always');
  });

  test('a GET of a VM this process did not just write, and a list of another principal, do not wait', async () => {
    const created = await t.as('operator').post('/v1/vms', vm('ryw-quiet'));
    const vmId = created.body.vmId as string;
    await t.as('operator').get(`/v1/vms/${vmId}`);
    const runner = t.runtime.projection('vms')!;
    await runner.paused(async () => {
      const held = ryw.counts.held;
      const res = await t.as('viewer').get(`/v1/vms/${vmId}`);
      assert.equal(res.status, 200);
      const list = await t.as('auditor').get('/v1/vms');
      assert.equal(list.status, 200);
      assert.equal(ryw.counts.held, held, 'neither read was held');
    });
  });
});

describe('e2e: read-your-writes past its deadline — the log answers a VM, never a stale record', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ env: { READ_MODEL_WAIT_MS: '300' } });
    await registerHost(t, { name: 'h1' });
  });
  after(() => t.close());

  test('GET /v1/vms/{id} while the projection stays paused past READ_MODEL_WAIT_MS: folded from the log, with the write', async () => {
    const runner = t.runtime.projection('vms')!;
    const ryw = t.app.get<ReadYourWrites>(READ_YOUR_WRITES);
    await runner.paused(async () => {
      const created = await t.as('operator').post('/v1/vms', { name: 'ryw-late', vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const late = ryw.counts.late;
      const res = await t.as('operator').get(`/v1/vms/${created.body.vmId as string}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.name, 'ryw-late');
      assert.ok(
        BigInt(String(res.headers.etag).replaceAll('"', '')) >=
          BigInt(String(created.headers.etag).replaceAll('"', '')),
      );
      assert.equal(ryw.counts.late, late + 1, 'the read waited out its deadline, then read the log');
    });
  });
});
