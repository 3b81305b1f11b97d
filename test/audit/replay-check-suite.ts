/**
 * GET /v1/audit/replay-check on both stores: empty after a long random history
 * with injected driver failures (the proof that live state equals the log),
 * and naming exactly the records someone altered or deleted in Redis.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { testRedisUrl } from '../support/env.js';
import { flakyHostUris, runRandomHistory } from '../support/random-history.js';
import { dropPostgresSchema, STORE_KINDS, type StoreKind } from '../support/store-kinds.js';
import { assertError, registerSimHost, storeEvents, waitSettled, type Json } from '../support/e2e.js';

const COMMANDS = 2000;
const VMS = 20;

async function shadowKeys(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:shadow:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/**
 * Registers the suite for one store. Each store runs from its own test file
 * (replay-check.<store>.test.ts): a 2000-command history takes minutes, and one file per
 * store gives each its own deadline and lets the runner spread them.
 */
export function replayCheckSuite(kind: StoreKind): void {
  const { store, skip } = STORE_KINDS.find((k) => k.store === kind)!;
  describe(`e2e: replay-check after a long random history (${store})`, { skip }, () => {
    let t: TestApp;
    let redis: Redis;
    let hostIds: string[];
    const seed = Number(process.env.REPLAY_SEED ?? Math.floor(Math.random() * 1e9));

    before(async () => {
      // One attempt per job: an injected driver failure becomes a failed operation instead of a silent retry.
      t = await startTestApp({ store, env: { JOB_ATTEMPTS: '1', RECONCILE_INTERVAL_MS: '3600000' } });
      redis = new Redis(testRedisUrl());
      hostIds = [];
      for (const [i, uri] of flakyHostUris(seed).entries())
        hostIds.push((await registerSimHost(t, `flaky-${i}`, uri, { vcpus: 512, memoryMiB: 524288 })).id as string);
    });
    after(async () => {
      redis?.disconnect();
      await t?.close();
      if (t) await dropPostgresSchema(t.eventStoreUrl);
    });

    test(`${COMMANDS} concurrent commands over ${VMS} VMs with injected failures; the replay matches the live read models`, async () => {
      console.log(`# replay-check ${store}: seed ${seed} (rerun with REPLAY_SEED=${seed})`);
      const report = await runRandomHistory(t, { seed, commands: COMMANDS, vms: VMS, hostIds });
      console.log(`# ${store}: ${JSON.stringify(report)}`);
      assert.ok(report.commands >= COMMANDS, `only ${report.commands} commands sent`);
      assert.ok(report.failed > 0, `no operation failed: the failure injection did nothing (seed ${seed})`);
      assert.ok(report.succeeded > report.failed, `seed ${seed}: ${JSON.stringify(report)}`);
      assert.ok(report.byVerb.migrate! > 0 && report.byVerb.snapshot! > 0, JSON.stringify(report.byVerb));
      await waitSettled(t, hostIds, 60_000);
      const events = (await storeEvents(t)).length;

      const res = await t.as('auditor').get('/v1/audit/replay-check');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const check = res.body as Json;
      const { differences: _d, ...counts } = check;
      console.log(`# ${store}: replay-check ${JSON.stringify(counts)}`);
      assert.deepEqual(check.differences, [], `seed ${seed}: ${JSON.stringify(check.differences.slice(0, 20))}`);
      assert.equal(check.consistent, true);
      assert.equal(check.differenceCount, 0);
      assert.equal(check.eventsReplayed, events);
      assert.deepEqual(
        (check.readModels as Json[]).map((m) => m.name),
        ['vms', 'hosts', 'images', 'networks', 'volumes'],
      );
      for (const m of check.readModels as Json[]) assert.equal(m.eventsReplayed, events, JSON.stringify(m));
      // 20 VM slots (and their replacements), their operations, 2 hosts and the indexes.
      assert.ok(check.recordsCompared > report.accepted, JSON.stringify(check));
      const head = await t.runtime.store!.headPosition();
      assert.equal(check.position, head!.toString());
      assert.deepEqual(await shadowKeys(redis, t.redisPrefix), [], 'the shadow namespace is deleted');
    });

    test('a record altered, one deleted and strays added in Redis are named exactly: read model, key, field, live vs replayed', async () => {
      const vms = (await t.as('viewer').get('/v1/vms?limit=1000')).body.items as Json[];
      const [a, b] = vms.filter((v) => v.state !== 'deleted');
      assert.ok(a && b, 'two VMs to damage');
      const keyA = t.runtime.keys.vm(a.id as string);
      const recA = JSON.parse((await redis.get(keyA))!) as Json;
      const original = { vcpus: recA.state.spec.vcpus as number, name: recA.state.spec.name as string };
      recA.state.spec.vcpus = 97;
      recA.state.spec.name = 'tampered';
      await redis.set(keyA, JSON.stringify(recA));
      await redis.del(t.runtime.keys.vm(b.id as string));
      // Keys the log never made, in two read models: the check lists each read model's live keys.
      const strayVm = '00000000-0000-4000-8000-00000000dead';
      await redis.set(t.runtime.keys.vm(strayVm), '{"stray":true}');
      await redis.set(t.runtime.keys.host('stray'), '{"stray":"host"}');

      const res = await t.as('admin').get('/v1/audit/replay-check');
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const check = res.body as Json;
      assert.equal(check.consistent, false);
      const diffs = (check.differences as Json[]).map((d) => ({ ...d }));
      const replayedB = diffs.find((d) => d.key === `vm:${b.id}`)?.replayed as Json | undefined;
      const byKeyAndPath = (x: Json, y: Json): number =>
        x.key === y.key ? String(x.path).localeCompare(String(y.path)) : String(x.key).localeCompare(String(y.key));
      assert.deepEqual(
        diffs
          .map((d) => ({ readModel: d.readModel, key: d.key, path: d.path, kind: d.kind, live: d.live }))
          .sort(byKeyAndPath),
        [
          { readModel: 'vms', key: `vm:${a.id}`, path: '$.state.spec.name', kind: 'changed', live: 'tampered' },
          { readModel: 'vms', key: `vm:${a.id}`, path: '$.state.spec.vcpus', kind: 'changed', live: 97 },
          { readModel: 'vms', key: `vm:${b.id}`, path: '$', kind: 'missing-in-live', live: null },
          { readModel: 'vms', key: `vm:${strayVm}`, path: '$', kind: 'missing-in-replay', live: { stray: true } },
          { readModel: 'hosts', key: 'host:stray', path: '$', kind: 'missing-in-replay', live: { stray: 'host' } },
        ].sort(byKeyAndPath),
      );
      const byPath = new Map(diffs.map((d) => [`${d.key} ${d.path}`, d.replayed]));
      assert.equal(byPath.get(`vm:${a.id} $.state.spec.name`), original.name);
      assert.equal(byPath.get(`vm:${a.id} $.state.spec.vcpus`), original.vcpus);
      assert.equal(replayedB?.state?.id, b.id, 'the deleted record is shown as the replay has it');
      assert.equal(check.differenceCount, 5);
      assert.deepEqual(await shadowKeys(redis, t.redisPrefix), [], 'the shadow namespace is deleted');

      // A rebuild of vms repairs its three (the host stray is taken away by hand), and the check is empty again.
      await redis.del(t.runtime.keys.host('stray'));
      const rebuild = await t.as('admin').post('/v1/projections/vms/rebuild', { reason: 'repair after tampering' });
      assert.equal(rebuild.status, 202, JSON.stringify(rebuild.body));
      const op = await waitOperation(t, rebuild.body.operationId as string, 60_000);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      const again = await t.as('auditor').get('/v1/audit/replay-check');
      assert.equal(again.status, 200);
      assert.deepEqual(again.body.differences, []);
      assert.equal((await t.as('viewer').get(`/v1/vms/${b.id}`)).status, 200);
    });

    test('replay-check is for auditors and admins: a viewer or operator gets 403', async () => {
      assertError(await t.as('viewer').get('/v1/audit/replay-check'), 403);
      assertError(await t.as('operator').get('/v1/audit/replay-check'), 403);
    });
  });
}
