import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'supertest';
import { registerHost, startTestApp, type TestApp } from '../support/app.js';

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
      polled = new Promise<Response>((resolve, reject) =>
        t.as('viewer').get(`/v1/operations/${operationId}`).then(resolve, reject),
      );
      await sleep(1000);
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
