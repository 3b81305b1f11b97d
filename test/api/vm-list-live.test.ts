/**
 * Issue #14 (chaos `load`, reads p99): `GET /v1/vms` hides deleted VMs, and under churn they pile up
 * at the old end of the index, where every first page starts. The list reads the fleet-wide live
 * index instead: the same pages and the same cursors as a scan of every VM, without fetching the
 * deleted VMs' records. A read model from before that index (an upgrade, not rebuilt) is scanned as
 * before, and a rebuild gives it the index. Real Redis, SQLite, simulated host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { LiveIndexFormat } from '../../src/projections/vm-live-indexes.js';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertAccepted, registerSimHost, runOk, type Json } from '../support/e2e.js';

const VM = { vcpus: 1, memoryMiB: 64, diskGiB: 1 };

describe('GET /v1/vms under churn: the live index, not every VM ever created', () => {
  let t: TestApp;
  let hostId = '';
  const created: string[] = [];
  const deleted = new Set<string>();

  /** Every page of `query` at `limit`, with the cursor each gave. */
  const pages = async (query: string, limit: number) => {
    const out: Array<{ ids: string[]; next: string | null }> = [];
    for (let cursor: string | null = '0'; cursor !== null;) {
      const r = await t.as('admin').get(`/v1/vms?limit=${limit}&cursor=${cursor}${query}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const body = r.body as { items: Json[]; next: string | null };
      out.push({ ids: body.items.map((v) => v.id as string), next: body.next });
      cursor = body.next;
    }
    return out;
  };

  /**
   * The VM records `GET /v1/vms` read from Redis while `fn` ran: every MGET's VM keys, and the
   * records a script answered with (the live page reads its members' records in the same call).
   */
  const recordsFetched = async (fn: () => Promise<unknown>) => {
    type Call = (...args: unknown[]) => Promise<unknown>;
    const redis = t.runtime.redis as unknown as { mget: Call; evalsha: Call; eval: Call };
    const { mget, evalsha, eval: evalScript } = redis;
    let n = 0;
    /** VM records in a script's reply: JSON objects of a VM (ids and offsets are neither). */
    const vmRecords = (v: unknown): number =>
      Array.isArray(v)
        ? v.reduce((sum: number, x) => sum + vmRecords(x), 0)
        : typeof v === 'string' && v.startsWith('{')
          ? 1
          : 0;
    redis.mget = (...args: unknown[]) => {
      n += args.flat().filter((k) => typeof k === 'string' && k.startsWith(t.runtime.keys.vm(''))).length;
      return mget.apply(t.runtime.redis, args);
    };
    // EVAL too: the first call of a script Redis does not know yet sends it whole.
    const counted =
      (call: Call): Call =>
      async (...args: unknown[]) => {
        const reply = await call.apply(t.runtime.redis, args);
        n += vmRecords(reply);
        return reply;
      };
    redis.evalsha = counted(evalsha);
    redis.eval = counted(evalScript);
    try {
      await fn();
    } finally {
      redis.mget = mget;
      redis.evalsha = evalsha;
      redis.eval = evalScript;
    }
    return n;
  };

  before(async () => {
    t = await startTestApp();
    hostId = (await registerSimHost(t, 'hv-list-live')).id as string;
    for (let i = 0; i < 14; i++) {
      const vm = assertAccepted(await t.as('admin').post('/v1/vms', { ...VM, name: `churn-${i}`, hostId }));
      assert.equal((await waitOperation(t, vm.operationId)).status, 'succeeded');
      created.push(vm.vmId!);
    }
    // The oldest ten but two deleted, as a long churn leaves the old end of the index.
    for (const id of created.slice(0, 10)) {
      if (id === created[3] || id === created[7]) continue;
      await runOk(t, 'delete', `/v1/vms/${id}`, undefined, 'admin');
      deleted.add(id);
    }
  });
  after(() => t.close());

  test('a first page of 2 fetches the 3 records it needs, not the deleted ones before them', async () => {
    // The count sees every call on the runtime's client, so the control plane's own work that
    // overlaps the request (a late event of a delete applied, a sweep) can add a record to one
    // look: the fewest of three looks is what the list read. A list that fetched the deleted
    // VMs would show more in every look; one that fetched fewer would fail as well.
    const looks: number[] = [];
    for (let i = 0; i < 3; i++) {
      let first: Json = {};
      looks.push(
        await recordsFetched(async () => {
          first = (await t.as('admin').get('/v1/vms?limit=2')).body as Json;
        }),
      );
      assert.deepEqual(
        (first.items as Json[]).map((v) => v.id),
        [created[3], created[7]],
      );
    }
    assert.equal(
      Math.min(...looks),
      3,
      `the page and the one that tells there is a next page (looks: ${looks.join(', ')})`,
    );
  });

  test('every page and cursor is what a scan of every VM gives, with filters and with deleted VMs asked for', async () => {
    const live = created.filter((id) => !deleted.has(id));
    const viaLive = await pages('', 2);
    assert.deepEqual(
      viaLive.flatMap((p) => p.ids),
      live,
    );
    const onHost = await pages(`&hostId=${hostId}`, 3);
    const stopped = await pages('&state=running,stopped', 5);
    const withDeleted = await pages('&includeDeleted=true', 4);
    assert.deepEqual(
      withDeleted.flatMap((p) => p.ids),
      created,
    );

    // The same read model without the fleet-wide index's count: what an upgraded deployment has until a rebuild.
    const redis = t.runtime.redis;
    const key = t.runtime.keys.liveIndexFormat();
    const format = JSON.parse((await redis.get(key))!) as LiveIndexFormat;
    await redis.set(key, JSON.stringify({ created: format.created } satisfies LiveIndexFormat));
    assert.ok((await recordsFetched(() => t.as('admin').get('/v1/vms?limit=2'))) > 3, 'scanned every VM');
    assert.deepEqual(await pages('', 2), viaLive);
    assert.deepEqual(await pages(`&hostId=${hostId}`, 3), onHost);
    assert.deepEqual(await pages('&state=running,stopped', 5), stopped);

    const res = await t.as('admin').post('/v1/projections/vms/rebuild', { reason: 'test: fleet live index' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal((await waitOperation(t, res.body.operationId as string)).status, 'succeeded');
    assert.deepEqual(await redis.zrange(t.runtime.keys.liveVms(), 0, -1), live);
    assert.equal(await recordsFetched(() => t.as('admin').get('/v1/vms?limit=2')), 3);
    assert.deepEqual(await pages('', 2), viaLive);
  });

  test('a VM deleted after its page was read: the next page neither skips nor repeats one', async () => {
    const first = (await t.as('admin').get('/v1/vms?limit=2')).body as { items: Json[]; next: string };
    await runOk(t, 'delete', `/v1/vms/${first.items[0]!.id as string}`, undefined, 'admin');
    const rest = await t.as('admin').get(`/v1/vms?limit=100&cursor=${first.next}`);
    const live = created.filter((id) => !deleted.has(id));
    assert.deepEqual(
      (rest.body as { items: Json[] }).items.map((v) => v.id),
      live.slice(2),
    );
  });

  test('a filter that ends a page inside a later batch: the same pages and cursors as the scan of every VM', async () => {
    // Stopped, the second live VM drops out of `state=running`: a page of 2 fills in the second batch, on a
    // member before that batch's last one, whose offset the live page asks for on its own.
    const shown = (await pages('', 100)).flatMap((p) => p.ids);
    await runOk(t, 'post', `/v1/vms/${shown[1]!}/stop`, { force: true }, 'admin');
    const running = shown.filter((id) => id !== shown[1]);
    const viaLive = await pages('&state=running', 2);
    assert.deepEqual(
      viaLive.flatMap((p) => p.ids),
      running,
    );
    // The same read model without the fleet-wide index's count: scanned, as before the live index.
    const redis = t.runtime.redis;
    const key = t.runtime.keys.liveIndexFormat();
    const format = (await redis.get(key))!;
    await redis.set(key, JSON.stringify({ created: (JSON.parse(format) as LiveIndexFormat).created }));
    try {
      assert.deepEqual(await pages('&state=running', 2), viaLive);
    } finally {
      await redis.set(key, format);
    }
  });
});
