/**
 * List pages over a Redis index (real Redis): whatever the page size and however
 * little a filter keeps, paging to the end returns every kept record once, in
 * order — the batches the scan fetches grow from the page size, and a page can
 * end in the middle of one.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { scanNewestFirst, scanOldestFirst, type Page } from '../../src/projections/scan-page.js';
import { newestWithRecords, rangeWithRecords } from '../../src/projections/index-records.js';
import { redisForTest } from '../support/redis-for-test.js';

interface Rec {
  id: string;
  n: number;
}

const COUNT = 1200;

describe('scan-page', () => {
  const own = redisForTest('vlscan');
  const { redis } = own;
  const index = own.key('index');
  const key = (id: string) => own.key(`rec:${id}`);

  before(async () => {
    const m = redis.multi();
    for (let n = 1; n <= COUNT; n++) {
      const id = `r${n}`;
      m.set(key(id), JSON.stringify({ id, n } satisfies Rec));
      m.zadd(index, n, id);
    }
    await m.exec();
  });
  after(() => own.cleanup());

  async function all(
    scan: (cursor: number) => Promise<Page<Rec>>,
  ): Promise<{ ids: number[]; pages: number; sizes: number[] }> {
    const ids: number[] = [];
    const sizes: number[] = [];
    let cursor = 0;
    for (let pages = 1; ; pages++) {
      const page = await scan(cursor);
      ids.push(...page.items.map((r) => r.n));
      sizes.push(page.items.length);
      if (page.next === null) return { ids, pages, sizes };
      cursor = Number(page.next);
      assert.ok(pages < COUNT, 'paging ends');
    }
  }

  const range = (keep: (n: number) => boolean) => Array.from({ length: COUNT }, (_, i) => i + 1).filter((n) => keep(n));

  for (const limit of [1, 7, 20, 50, 499, 500, 1000]) {
    for (const [what, keep] of [
      ['every record', () => true],
      ['one in 13', (n: number) => n % 13 === 0],
      ['only the last', (n: number) => n === COUNT],
    ] as Array<[string, (n: number) => boolean]>) {
      test(`oldest first, ${limit} a page, keeping ${what}: every kept record once, in order`, async () => {
        const got = await all((c) => scanOldestFirst<Rec>(redis, index, key, (r) => keep(r.n), c, limit));
        assert.deepEqual(got.ids, range(keep));
        assert.ok(
          got.sizes.slice(0, -1).every((s) => s === limit),
          'only the last page is short',
        );
      });
      test(`newest first, ${limit} a page, keeping ${what}: every kept record once, in order`, async () => {
        const got = await all((c) => scanNewestFirst<Rec>(redis, index, key, (r) => keep(r.n), c, limit));
        assert.deepEqual(got.ids, range(keep).reverse());
        assert.ok(
          got.sizes.slice(0, -1).every((s) => s === limit),
          'only the last page is short',
        );
      });
    }
  }

  test('past its budget a page comes back short with a cursor that resumes where the scan stopped', async () => {
    const keep = (n: number) => n > 1000;
    const oldest = await scanOldestFirst<Rec>(redis, index, key, (r) => keep(r.n), 0, 10, 300);
    assert.deepEqual(oldest.items, []);
    assert.ok(oldest.next !== null && Number(oldest.next) >= 300 && Number(oldest.next) < 1000);
    const got = await all((c) => scanOldestFirst<Rec>(redis, index, key, (r) => keep(r.n), c, 10, 300));
    assert.deepEqual(got.ids, range(keep));
    const newest = await all((c) => scanNewestFirst<Rec>(redis, index, key, (r) => r.n <= 5, c, 3, 300));
    assert.deepEqual(newest.ids, [5, 4, 3, 2, 1]);
  });

  test('a record whose key is gone (deleted between the index read and the records read) is skipped', async () => {
    await redis.del(key('r2'));
    try {
      const page = await scanOldestFirst<Rec>(redis, index, key, () => true, 0, 3);
      assert.deepEqual(
        page.items.map((r) => r.n),
        [1, 3, 4],
      );
    } finally {
      await redis.set(key('r2'), JSON.stringify({ id: 'r2', n: 2 }));
    }
  });

  /** Commands sent to Redis while `fn` ran (each one a round trip waited for in turn). */
  const commandsSent = async (fn: () => Promise<unknown>) => {
    const send = redis.sendCommand.bind(redis);
    let n = 0;
    redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
      n++;
      return send(...args);
    };
    try {
      await fn();
    } finally {
      redis.sendCommand = send;
    }
    return n;
  };

  test('a newest-first page the first batch fills is one round trip: the index and its records together', async () => {
    let page: Page<Rec> = { items: [], next: null };
    const sent = await commandsSent(async () => {
      page = await scanNewestFirst<Rec>(redis, index, key, () => true, 0, 20);
    });
    assert.deepEqual(
      page.items.map((r) => r.n),
      range(() => true)
        .reverse()
        .slice(0, 20),
    );
    assert.equal(page.next, String(COUNT - 19));
    assert.equal(sent, 1);
  });

  test('a whole index with its records, in order, in one round trip; a gone record reads null', async () => {
    await redis.del(key('r600'));
    try {
      // Once first: Redis learns the script then (EVALSHA answers NOSCRIPT, EVAL sends it).
      await rangeWithRecords(redis, index, key, 0, 0);
      let got: Awaited<ReturnType<typeof rangeWithRecords>> = { ids: [], scores: [], raws: [] };
      assert.equal(await commandsSent(async () => (got = await rangeWithRecords(redis, index, key, 0, -1))), 1);
      assert.deepEqual(
        got.ids,
        range(() => true).map((n) => `r${n}`),
      );
      assert.equal(got.raws[599], null);
      assert.deepEqual(
        got.raws.filter((r): r is string => r !== null).map((r) => (JSON.parse(r) as Rec).n),
        range((n) => n !== 600),
      );
      const newest = await newestWithRecords(redis, index, key, '(3', 5);
      assert.deepEqual(newest.ids, ['r2', 'r1']);
      assert.deepEqual(newest.scores, ['2', '1']);
      assert.deepEqual(
        newest.raws.map((r) => (JSON.parse(r!) as Rec).n),
        [2, 1],
      );
    } finally {
      await redis.set(key('r600'), JSON.stringify({ id: 'r600', n: 600 }));
    }
  });
});
