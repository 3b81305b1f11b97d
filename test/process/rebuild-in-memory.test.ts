/**
 * A rebuild and a replay check fold the log in memory and write each key once
 * at the end (or, past the memory bound, spill to Redis and go on in pages).
 * After a random history with injected driver failures, every way of replaying
 * it must give the live runner's read model byte for byte: the in-memory fold
 * compared without writing, the fold written in two parts (what changed after
 * the first write is written again), the spilled paged replay, and a real
 * rebuild through the API swapped in.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { PROJECTION_NAMES, PROJECTIONS } from '../../src/projections/projection-catalog.js';
import { readSnapshot, type ReadModelSnapshot } from '../../src/projections/read-model-snapshot.js';
import { deleteKeysWithPrefix } from '../../src/projections/redis-keys.js';
import { ShadowReplay } from '../../src/projections/shadow-replay.js';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { testRedisUrl } from '../support/env.js';
import { flakyHostUris, runRandomHistory } from '../support/random-history.js';
import { registerSimHost, storeEvents, waitSettled } from '../support/e2e.js';

/** The live read models, read while their runners are paused (nothing moves under the read). */
async function liveSnapshots(t: TestApp, redis: Redis): Promise<Map<string, ReadModelSnapshot>> {
  const out = new Map<string, ReadModelSnapshot>();
  for (const runner of t.runtime.projections)
    out.set(runner.projection.name, await runner.paused(() => readSnapshot(redis, t.runtime.keys, runner.projection)));
  return out;
}

describe('rebuild in memory: every replay gives the live read models byte for byte', () => {
  let t: TestApp;
  let redis: Redis;
  const seed = Number(process.env.REPLAY_SEED ?? Math.floor(Math.random() * 1e9));
  const shadows: string[] = [];

  before(async () => {
    t = await startTestApp({ env: { JOB_ATTEMPTS: '1', RECONCILE_INTERVAL_MS: '3600000' } });
    redis = new Redis(testRedisUrl());
    const hostIds: string[] = [];
    for (const [i, uri] of flakyHostUris(seed).entries())
      hostIds.push((await registerSimHost(t, `flaky-${i}`, uri, { vcpus: 512, memoryMiB: 524288 })).id as string);
    console.log(`# rebuild-in-memory: seed ${seed} (rerun with REPLAY_SEED=${seed})`);
    const report = await runRandomHistory(t, { seed, commands: 300, vms: 8, hostIds });
    assert.ok(report.succeeded > 0 && report.failed > 0, `seed ${seed}: ${JSON.stringify(report)}`);
    await waitSettled(t, hostIds, 60_000);
  });
  after(async () => {
    for (const id of shadows) await deleteKeysWithPrefix(redis, t.runtime.keys.shadowRoot(id));
    redis?.disconnect();
    await t?.close();
  });

  test('in memory (nothing written), written in two parts, and spilled to paged Redis writes: all equal live', async () => {
    const head = (await t.runtime.store!.headPosition())!;
    assert.ok(await t.runtime.waitForProjections(head, 30_000), 'the live read models reach the head');
    const live = await liveSnapshots(t, redis);
    const events = (await storeEvents(t)).length;
    const store = t.runtime.store!;
    for (const name of PROJECTION_NAMES) {
      const expected = live.get(name)!;
      const shadow = (id: string) => {
        shadows.push(id);
        return t.runtime.keys.shadow(id);
      };

      const memKeys = shadow(`mem-${name}`);
      const mem = new ShadowReplay(store, redis, PROJECTIONS[name]!(memKeys), memKeys, { persist: false });
      await mem.replay(head);
      assert.equal(mem.events, events);
      assert.ok(mem.inMemory);
      assert.deepEqual(await mem.snapshot(), expected, `${name}: the in-memory fold`);
      assert.deepEqual(
        await readSnapshot(redis, memKeys, mem.projection),
        new Map(),
        `${name}: a check writes nothing`,
      );

      // Written at the middle of the log, then again at the head: the second write carries what changed since.
      const twoKeys = shadow(`two-${name}`);
      const two = new ShadowReplay(store, redis, PROJECTIONS[name]!(twoKeys), twoKeys, { batchSize: 97 });
      await two.replay(head / 2n);
      await two.replay(head);
      assert.ok(two.inMemory);
      assert.deepEqual(await readSnapshot(redis, twoKeys, two.projection), expected, `${name}: written in two parts`);
      assert.equal(await redis.get(twoKeys.checkpoint(name)), head.toString());
      assert.deepEqual(new Set(two.writtenKeys()), new Set([...expected.keys()].map((k) => twoKeys.root + k)));

      // No memory to spare: the fold spills after its first page and the rest goes page by page through Redis.
      const pagedKeys = shadow(`paged-${name}`);
      const paged = new ShadowReplay(store, redis, PROJECTIONS[name]!(pagedKeys), pagedKeys, {
        batchSize: 50,
        memoryLimitBytes: 0,
      });
      await paged.replay(head);
      // (A read model the history left empty holds nothing to spill.)
      assert.equal(paged.inMemory, expected.size === 0, `${name}: spilled`);
      if (expected.size) assert.equal(paged.writtenKeys(), undefined);
      assert.deepEqual(await paged.snapshot(), expected, `${name}: spilled and paged`);
    }
  });

  test('every read model rebuilt through the API is byte for byte what the live runner had', async () => {
    const head = (await t.runtime.store!.headPosition())!;
    assert.ok(await t.runtime.waitForProjections(head, 30_000));
    const before = await liveSnapshots(t, redis);
    const rebuildOps = new Set<string>();
    for (const name of PROJECTION_NAMES) {
      const res = await t.as('admin').post(`/v1/projections/${name}/rebuild`, { reason: 'in-memory rebuild test' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const op = await waitOperation(t, res.body.operationId as string, 120_000);
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      rebuildOps.add(res.body.operationId as string);
    }
    const afterAll = await liveSnapshots(t, redis);
    for (const name of PROJECTION_NAMES) {
      const now = new Map(afterAll.get(name)!);
      if (name === 'vms') {
        // The rebuilds are operations themselves (on the vms read model): the only records they add.
        for (const id of rebuildOps) assert.ok(now.delete(`op:${id}`), `operation ${id} listed`);
        for (const [key, value] of now) {
          if (value.type !== 'zset') continue;
          const members = Object.fromEntries(Object.entries(value.members).filter(([m]) => !rebuildOps.has(m)));
          // An index holding only rebuilds (the admin's own operations) did not exist before them.
          if (Object.keys(members).length === 0 && !before.get(name)!.has(key)) now.delete(key);
          else now.set(key, { type: 'zset', members });
        }
      }
      assert.deepEqual(now, before.get(name)!, `${name}: rebuilt = live before the rebuild`);
    }
    const check = await t.as('auditor').get('/v1/audit/replay-check');
    assert.equal(check.status, 200);
    assert.deepEqual(check.body.differences, []);
    assert.equal(check.body.consistent, true);
  });
});
