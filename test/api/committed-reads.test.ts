/**
 * Issue #14 (chaos `load`, reads): a VM or an operation read from the process that runs the `vms`
 * projection is answered from what that projection last committed, without a Redis round trip for
 * the record; a process whose runner is stopped (a standby, a rebuild's pause) reads Redis as before.
 * Either way the answer is the read model as Redis holds it. Real Redis, SQLite, simulated host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertAccepted, registerSimHost, type Json } from '../support/e2e.js';

describe('GET /v1/vms/{id} and /v1/operations/{id} from what the vms projection committed', () => {
  let t: TestApp;
  let vmId = '';
  let operationId = '';

  /** Redis GETs of `keys` sent while `fn` ran. */
  const recordGets = async (keys: string[], fn: () => Promise<unknown>) => {
    type Call = (...args: unknown[]) => Promise<unknown>;
    const redis = t.runtime.redis as unknown as { get: Call };
    const get = redis.get;
    let n = 0;
    redis.get = (...args: unknown[]) => {
      if (keys.includes(args[0] as string)) n++;
      return get.apply(t.runtime.redis, args);
    };
    try {
      await fn();
    } finally {
      redis.get = get;
    }
    return n;
  };

  /** What Redis holds for the VM and the operation: the read model the answers must show. */
  const stored = async () => {
    const vm = JSON.parse((await t.runtime.redis.get(t.runtime.keys.vm(vmId)))!) as { revision: string };
    const op = JSON.parse((await t.runtime.redis.get(t.runtime.keys.operation(operationId)))!) as Json;
    return { revision: Number(vm.revision), status: op.status as string };
  };

  const read = async () => {
    const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
    const snapshots = await t.as('viewer').get(`/v1/vms/${vmId}/snapshots`);
    const op = await t.as('viewer').get(`/v1/operations/${operationId}`);
    for (const r of [vm, snapshots, op]) assert.equal(r.status, 200, JSON.stringify(r.body));
    return { revision: (vm.body as Json).revision as number, status: (op.body as Json).status as string };
  };

  before(async () => {
    t = await startTestApp();
    const hostId = (await registerSimHost(t, 'hv-committed')).id as string;
    const vm = assertAccepted(
      await t.as('admin').post('/v1/vms', { name: 'committed-1', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId }),
    );
    vmId = vm.vmId!;
    operationId = vm.operationId;
    assert.equal((await waitOperation(t, operationId)).status, 'succeeded');
  });
  after(() => t.close());

  test('the owner of the projections answers without reading the records from Redis', async () => {
    const keys = [t.runtime.keys.vm(vmId), t.runtime.keys.operation(operationId)];
    let answered = { revision: 0, status: '' };
    assert.equal(
      await recordGets(keys, async () => {
        answered = await read();
      }),
      0,
    );
    assert.deepEqual(answered, await stored());
  });

  test('with the vms runner stopped the records are read from Redis, and then as the runner left them', async () => {
    const runner = t.runtime.projection('vms')!;
    const keys = [t.runtime.keys.vm(vmId), t.runtime.keys.operation(operationId)];
    await runner.stop();
    try {
      let answered = { revision: 0, status: '' };
      assert.equal(
        await recordGets(keys, async () => {
          answered = await read();
        }),
        3,
      );
      assert.deepEqual(answered, await stored());
    } finally {
      await runner.start();
    }
  });
});
