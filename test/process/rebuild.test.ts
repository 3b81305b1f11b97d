/**
 * POST /v1/projections/{name}/rebuild on both stores: a damaged read model is
 * rebuilt from the log in a shadow namespace and swapped in at once, as an
 * operation with progress, while reads keep answering and commands keep
 * landing; the audit trail is on the `projection-<name>` stream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { testRedisUrl } from '../support/env.js';
import { runRandomHistory } from '../support/random-history.js';
import { dropPostgresSchema, STORE_KINDS } from '../support/store-kinds.js';
import { waitFor } from '../support/wait.js';
import {
  assertAccepted,
  assertError,
  getVm,
  registerSimHost,
  storeEvents,
  waitSettled,
  type Json,
} from '../support/e2e.js';

async function keysUnder(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

const ENV = { RECONCILE_INTERVAL_MS: '3600000' };

async function waitUntilProgress(t: TestApp, opId: string): Promise<void> {
  await waitFor(
    async () => {
      const op = (await t.as('viewer').get(`/v1/operations/${opId}`)).body as Json;
      assert.equal(op.status, 'running', JSON.stringify(op));
      return op.progress?.done > 0;
    },
    { what: `rebuild ${opId} to report progress`, timeoutMs: 60_000, intervalMs: 50 },
  );
}

for (const { store, skip } of STORE_KINDS) {
  describe(`e2e: rebuild a read model (${store})`, { skip }, () => {
    let t: TestApp;
    let first: TestApp | undefined;
    let redis: Redis;
    let hostIds: string[];

    before(async () => {
      t = await startTestApp({ store, env: ENV });
      redis = new Redis(testRedisUrl());
      hostIds = [(await registerSimHost(t, 'rb-1')).id as string, (await registerSimHost(t, 'rb-2')).id as string];
      // A history of a few hundred commands: enough events that a throttled rebuild runs for seconds.
      await runRandomHistory(t, { seed: 4242, commands: 250, vms: 10, hostIds });
      await waitSettled(t, hostIds, 60_000);
    });
    after(async () => {
      redis?.disconnect();
      await t?.close();
      await first?.close();
      if (t) await dropPostgresSchema(t.eventStoreUrl);
    });

    test('refusals: unknown projection 404, non-admin 403, bad throttle 400 naming the field; none appends', async () => {
      const before = (await storeEvents(t)).length;
      assertError(await t.as('admin').post('/v1/projections/nope/rebuild'), 404, '"nope"');
      for (const role of ['operator', 'auditor', 'viewer'] as const)
        assertError(await t.as(role).post('/v1/projections/vms/rebuild'), 403);
      assertError(await t.as('admin').post('/v1/projections/vms/rebuild', { batchSize: 0 }), 400, 'batchSize');
      assertError(await t.as('admin').post('/v1/projections/vms/rebuild', { pauseMs: 'x' }), 400, 'pauseMs');
      assertError(await t.as('admin').post('/v1/projections/vms/rebuild', { reason: 'r'.repeat(501) }), 400, 'reason');
      assert.equal((await storeEvents(t)).length, before);
    });

    test('vms: damaged records restored, progress to the total, reads answer throughout, 409 on a second, live writes survive the swap', async () => {
      const vms = ((await t.as('viewer').get('/v1/vms?limit=1000&includeDeleted=true')).body.items as Json[]).filter(
        (v) => v.state !== 'deleted',
      );
      assert.ok(vms.length >= 3, 'three live VMs');
      const [lost, altered, steady] = vms as [Json, Json, Json];
      const steadyBefore = await getVm(t, steady.id as string);
      await redis.del(t.runtime.keys.vm(lost.id as string));
      const altKey = t.runtime.keys.vm(altered.id as string);
      const rec = JSON.parse((await redis.get(altKey))!) as Json;
      rec.state.spec.name = 'tampered';
      await redis.set(altKey, JSON.stringify(rec));
      await redis.set(t.runtime.keys.vm('00000000-0000-4000-8000-000000000000'), '{"stale":true}');
      // GET /v1/vms/{id} falls back to the log; the list is the read model alone.
      const listed = async (id: string) =>
        ((await t.as('viewer').get('/v1/vms?limit=1000&includeDeleted=true')).body.items as Json[]).find(
          (v) => v.id === id,
        );
      assert.equal(await listed(lost.id as string), undefined, 'the damage is visible');
      assert.equal((await listed(altered.id as string))?.name, 'tampered');
      const logBefore = (await storeEvents(t)).length;

      const res = await t.as('admin').post('/v1/projections/vms/rebuild', {
        reason: 'test: repair',
        batchSize: 50,
        pauseMs: 250,
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal(res.headers.location, `/v1/operations/${res.body.operationId}`);
      assert.equal(res.body.projection, 'vms');
      const opId = res.body.operationId as string;

      const first = (await t.as('viewer').get(`/v1/operations/${opId}`)).body as Json;
      assert.equal(first.kind, 'rebuild');
      assert.equal(first.projection, 'vms');
      assert.equal(first.vmId, null);
      assert.equal(first.status, 'running', JSON.stringify(first));
      assert.equal(first.reason, 'test: repair');

      const second = await t.as('admin').post('/v1/projections/vms/rebuild');
      assertError(second, 409, opId);
      assertError(await t.as('auditor').get('/v1/audit/replay-check'), 409, opId);

      // Reads keep answering from the live read model while the shadow is built.
      let reads = 0;
      let readsDone = false;
      const reader = (async () => {
        while (!readsDone) {
          const r = await t.as('viewer').get(`/v1/vms/${steady.id}`);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.equal(r.body.name, steadyBefore.name);
          reads++;
          await sleep(20);
        }
      })();

      const samples: Json[] = [];
      const sample = async () => {
        const op = (await t.as('viewer').get(`/v1/operations/${opId}`)).body as Json;
        samples.push(op);
        return op;
      };
      // A command accepted while the rebuild runs must be in the read model after the swap.
      await waitFor(async () => (await sample()).progress?.done > 0, {
        what: 'the rebuild to report progress',
        timeoutMs: 60_000,
        intervalMs: 50,
      });
      const created = assertAccepted(
        await t.as('operator').post('/v1/vms', { name: 'during-rebuild', vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
      );
      const createOp = await waitOperation(t, created.operationId, 60_000);
      assert.equal(createOp.status, 'succeeded', JSON.stringify(createOp));
      assert.equal((await sample()).status, 'running', 'the create finished while the rebuild still ran');

      const last = await waitFor(
        async () => {
          const op = await sample();
          return op.status !== 'running' && op;
        },
        { what: 'the rebuild to end', timeoutMs: 120_000, intervalMs: 100 },
      );
      readsDone = true;
      await reader;
      assert.ok(reads > 0);
      assert.equal(last.status, 'succeeded', JSON.stringify(last));
      assert.equal(last.error, null);
      const total = last.progress.total as number;
      assert.equal(last.progress.done, total);
      assert.ok(
        total > logBefore,
        `total ${total} counts the events appended during the rebuild too (${logBefore} before)`,
      );
      const running = samples.filter((s) => s.status === 'running' && s.progress?.total);
      assert.ok(
        running.some((s) => s.progress.done > 0 && s.progress.done < s.progress.total),
        'progress was seen part way',
      );
      for (let i = 1; i < running.length; i++)
        assert.ok(running[i]!.progress.done >= running[i - 1]!.progress.done, 'progress never goes back');

      // Restored, the stale key gone, the VM created during the rebuild there.
      assert.equal((await listed(lost.id as string))?.name, lost.name);
      assert.equal((await listed(altered.id as string))?.name, altered.name);
      assert.equal(await redis.get(t.runtime.keys.vm('00000000-0000-4000-8000-000000000000')), null);
      const during = await getVm(t, created.vmId);
      assert.equal(during.name, 'during-rebuild');
      assert.equal(during.state, 'running');
      assert.deepEqual(await keysUnder(redis, `${t.redisPrefix}:shadow:*`), [], 'the shadow namespace is deleted');
      assert.deepEqual(await keysUnder(redis, `${t.redisPrefix}:maint:*`), [], 'lock and progress released');

      // Audited: who, when, result, on the projection's own stream, once each.
      const trail = (await storeEvents(t)).filter((e) => e.streamId === 'projection-vms');
      assert.deepEqual(
        trail.map((e) => e.type),
        ['ProjectionRebuildStarted', 'ProjectionRebuildSucceeded'],
      );
      for (const e of trail) {
        assert.equal(e.metadata.principal, first.principal);
        assert.equal(e.metadata.correlationId, opId);
      }
      assert.equal(trail[0]!.metadata.reason, 'test: repair');
      assert.equal(trail[1]!.data.events, total);

      const check = await t.as('auditor').get('/v1/audit/replay-check');
      assert.deepEqual(check.body.differences, []);
      const byPrincipal = await t
        .as('viewer')
        .get(`/v1/operations?principal=${encodeURIComponent(first.principal)}&limit=1000`);
      assert.ok(
        (byPrincipal.body.items as Json[]).some((o) => o.id === opId),
        'listed by principal',
      );
    });

    test('hosts: a deleted host record comes back after its rebuild', async () => {
      await redis.del(t.runtime.keys.host(hostIds[0]!));
      assert.equal((await t.as('viewer').get(`/v1/hosts/${hostIds[0]}`)).status, 404);
      const res = await t.as('admin').post('/v1/projections/hosts/rebuild');
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const op = await waitOperation(t, res.body.operationId as string, 60_000);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      assert.equal(op.projection, 'hosts');
      const host = await t.as('viewer').get(`/v1/hosts/${hostIds[0]}`);
      assert.equal(host.status, 200);
      assert.equal(host.body.name, 'rb-1');
      // GET /v1/projections: every read model and the log position it has applied (the head once settled).
      await waitSettled(t, hostIds, 30_000);
      const head = (await t.runtime.store!.headPosition())!.toString();
      const list = await t.as('viewer').get('/v1/projections');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body, {
        items: [
          { name: 'vms', position: head },
          { name: 'hosts', position: head },
          { name: 'images', position: head },
          { name: 'networks', position: head },
          { name: 'volumes', position: head },
        ],
      });
    });

    test('a rebuild left open by a process that died is closed as failed (interrupted) by the next one', async () => {
      const dead = '6f1d2c3b-0000-4000-8000-00000000dead';
      // What a process that crashed right after starting a rebuild leaves behind: a start, no end, its lease expired.
      await t.runtime.store!.append(
        'projection-hosts',
        [
          {
            id: '6f1d2c3b-0000-4000-8000-0000000000e1',
            type: 'ProjectionRebuildStarted',
            data: { operationId: dead, projection: 'hosts' },
            metadata: {
              principal: 'admin#gone',
              correlationId: dead,
              causationId: `http:${dead}`,
              at: new Date().toISOString(),
              schema: 1,
            },
          },
        ],
        'any',
      );
      const res = await t.as('admin').post('/v1/projections/hosts/rebuild');
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal((await waitOperation(t, res.body.operationId as string, 60_000)).status, 'succeeded');
      const stale = await waitOperation(t, dead, 10_000);
      assert.equal(stale.status, 'failed');
      assert.match(stale.error as string, /interrupted/);
      const trail = (await storeEvents(t)).filter((e) => e.streamId === 'projection-hosts').slice(-4);
      assert.deepEqual(
        trail.map((e) => [e.type, e.data.operationId]),
        [
          ['ProjectionRebuildStarted', dead],
          ['ProjectionRebuildFailed', dead],
          ['ProjectionRebuildStarted', res.body.operationId],
          ['ProjectionRebuildSucceeded', res.body.operationId],
        ],
      );
    });

    test('shutdown during a rebuild: recorded as failed, live read model untouched, shadow deleted', async () => {
      const vmsBefore = (await t.as('viewer').get('/v1/vms?limit=1000&includeDeleted=true')).body.items as Json[];
      const res = await t.as('admin').post('/v1/projections/vms/rebuild', { batchSize: 20, pauseMs: 300 });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const opId = res.body.operationId as string;
      await waitUntilProgress(t, opId);
      first = t;
      await t.stop();
      t = await startTestApp({
        dataDir: first.dataDir,
        redisPrefix: first.redisPrefix,
        eventStoreUrl: first.eventStoreUrl,
        env: ENV,
      });
      const op = await waitOperation(t, opId, 30_000);
      assert.equal(op.status, 'failed', JSON.stringify(op));
      assert.match(op.error as string, /shutting down/);
      assert.deepEqual((await t.as('viewer').get('/v1/vms?limit=1000&includeDeleted=true')).body.items, vmsBefore);
      assert.deepEqual(await keysUnder(redis, `${t.redisPrefix}:shadow:*`), []);
      const check = await t.as('auditor').get('/v1/audit/replay-check');
      assert.deepEqual(check.body.differences, []);
    });
  });
}
