/**
 * A long-poll on an operation is woken by the vms projection applying the VM's events; when the
 * event it wakes on ended the operation, the answer is what the projection just committed, not a
 * Redis read of it (one round trip less at the end of every create and migration a client waits for).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Response } from 'supertest';
import { registerHost, startTestApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';
import { OperationsController } from '../../src/modules/operations/operations.controller.js';
import type { ReadModels } from '../../src/projections/read-models.js';
import type { OperationView } from '../../src/projections/read-model.types.js';

const ENDED = new Set(['succeeded', 'failed', 'cancelled']);

describe('e2e: GET /v1/operations/{id}?waitMs answers an ended operation from the projection that applied it', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
    // Its starts hang until cancelled: the create stays running while the long-poll waits.
    await registerHost(t, { name: 'hang', uri: 'simulated://?hangVerbs=start' });
  });
  after(() => t.close());

  test('the long-poll reads the running operation from Redis, and the cancelled one from what was committed', async () => {
    const created = await t.as('operator').post('/v1/vms', { name: 'lp', vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const operationId = created.body.operationId as string;
    await waitFor(async () => (await t.as('viewer').get(`/v1/operations/${operationId}`)).body.status === 'running', {
      what: 'the create to be running (its start hangs)',
    });

    // What the long-poll's own reads of the read model returned (OperationCancel reads through its own field).
    const controller = t.app.get(OperationsController) as unknown as { readModels: ReadModels };
    const real = controller.readModels;
    const answered: string[] = [];
    controller.readModels = new Proxy(real, {
      get(target, prop) {
        if (prop === 'getOperation') {
          return async (id: string) => {
            const op = await target.getOperation(id);
            if (id === operationId) answered.push(op?.status ?? 'missing');
            return op;
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      const runner = t.runtime.projection('vms')!;
      const listening = runner.listenerCount('applied');
      const polled = new Promise<Response>((resolve, reject) => {
        t.as('viewer').get(`/v1/operations/${operationId}?waitMs=30000`).then(resolve, reject);
      });
      await waitFor(() => runner.listenerCount('applied') > listening, { what: 'the long-poll to wait' });

      const cancelled = await t.as('operator').delete(`/v1/operations/${operationId}`);
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      const res = await polled;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal((res.body as OperationView).status, 'cancelled');
      assert.ok(answered.length >= 1, 'the long-poll read the running operation from the read model');
      assert.deepEqual(
        answered.filter((s) => ENDED.has(s)),
        [],
        'the ended operation came from the projection, not from a read of Redis',
      );
    } finally {
      controller.readModels = real;
    }
  });
});
