import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Response } from 'supertest';
import { registerHost, startTestApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';

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
