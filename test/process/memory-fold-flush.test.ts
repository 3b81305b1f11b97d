/**
 * A rebuild writes its fold out in chunks cut by size (a few dozen KiB per pipeline, many in
 * flight): every record and index member must arrive whatever the cut, the checkpoint only after
 * all of them, and a chunk refused by Redis must fail the write without the checkpoint. Written
 * out in parts in the background while the fold goes on, Redis must end with exactly the fold.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MemoryFold } from '../../src/projections/memory-fold.js';
import type { ReadModelSnapshot } from '../../src/projections/read-model-snapshot.js';
import { deleteKeysWithPrefix } from '../../src/projections/redis-keys.js';
import { testRedisUrl } from '../support/env.js';

/** Every key under `prefix` as a snapshot holds it (records as their bytes, indexes as member → score). */
async function readPrefix(redis: Redis, prefix: string): Promise<ReadModelSnapshot> {
  const out: ReadModelSnapshot = new Map();
  const keys = await redis.keys(`${prefix}*`);
  for (const key of keys) {
    if ((await redis.type(key)) === 'zset') {
      const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
      const members: Record<string, number> = {};
      for (let i = 0; i < flat.length; i += 2) members[flat[i]!] = Number(flat[i + 1]);
      out.set(key, { type: 'zset', members });
    } else out.set(key, { type: 'string', value: (await redis.get(key))! });
  }
  return out;
}

describe('a fold written out in size-cut chunks', () => {
  const prefix = `vltest-flush-${randomUUID()}`;
  const k = (s: string) => `${prefix}:${s}`;
  let redis: Redis;

  before(() => {
    redis = new Redis(testRedisUrl());
  });
  after(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  /** Records of about 2 KiB (many chunks, more than are ever in flight) and indexes of many members. */
  function bigFold(ns: string): MemoryFold {
    const fold = new MemoryFold();
    for (let i = 0; i < 700; i++) fold.set(k(`${ns}:rec:${i}`), { i, pad: 'x'.repeat(2000), name: `é-${i}` });
    for (let i = 0; i < 1300; i++) fold.index(k(`${ns}:big`), i, `member-${i}`);
    for (let i = 0; i < 40; i++) fold.index(k(`${ns}:small:${i}`), i, `m-${i}`);
    return fold;
  }

  test('every record, every member and then the checkpoint arrive', async () => {
    const fold = bigFold('a');
    const written = await fold.flush(redis, k('a:checkpoint'), 42n);
    assert.equal(written, 700 + 1 + 40);
    const names = Array.from({ length: 700 }, (_, i) => k(`a:rec:${i}`));
    const values = await redis.mget(names);
    values.forEach((v, i) => assert.deepEqual(JSON.parse(v!), { i, pad: 'x'.repeat(2000), name: `é-${i}` }));
    const big = await redis.zrange(k('a:big'), 0, -1, 'WITHSCORES');
    assert.equal(big.length, 2600);
    for (let i = 0; i < 1300; i++) assert.deepEqual([big[2 * i], big[2 * i + 1]], [`member-${i}`, String(i)]);
    for (let i = 0; i < 40; i++)
      assert.deepEqual(await redis.zrange(k(`a:small:${i}`), 0, -1, 'WITHSCORES'), [`m-${i}`, String(i)]);
    assert.equal(await redis.get(k('a:checkpoint')), '42');
  });

  test('written out in the background while the fold goes on, then flushed: Redis holds exactly the fold', async () => {
    const fold = new MemoryFold();
    // A fixed pseudo-random sequence (the same every run): sets, deletes, re-sets, index moves, rolled-back events.
    let x = 12345;
    const rnd = (n: number): number => {
      // mulberry32
      x = (x + 0x6d2b79f5) | 0;
      let t = Math.imul(x ^ (x >>> 15), 1 | x);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    let writing: Promise<number> | undefined;
    let writeOuts = 0;
    for (let event = 0; event < 10000; event++) {
      fold.mark();
      for (let w = rnd(4); w >= 0; w--) {
        const op = rnd(10);
        // A few hot records written all along, many written a few times: settled and unsettled both.
        const rec = k(`c:rec:${op < 3 ? rnd(5) : rnd(400)}`);
        if (op < 6) fold.set(rec, { event, w, pad: 'y'.repeat(rnd(300)) });
        else if (op < 7) fold.del(rec);
        // Few members: one is often removed, added back, removed again (and rolled back) between write-outs.
        else if (op < 9) fold.index(k(`c:idx:${rnd(6)}`), event, `m-${rnd(40)}`);
        else fold.unindex(k(`c:idx:${rnd(6)}`), `m-${rnd(40)}`);
      }
      if (rnd(8) === 0) fold.rollback(); // a poison event: its writes undone alone
      if (!writing && rnd(50) === 0) {
        writeOuts++;
        writing = fold.writeOutSettled(redis).finally(() => (writing = undefined));
      }
      // The event loop turns now and then: a write-out in flight goes on between the fold's events.
      if (rnd(10) === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(writeOuts > 10, `${writeOuts} write-outs`);
    await writing;
    await fold.flush(redis, k('c:checkpoint'), 10000n);
    const expected = fold.snapshot(
      (key) => key,
      () => true,
    );
    expected.set(k('c:checkpoint'), { type: 'string', value: '10000' });
    const held = await readPrefix(redis, k('c:'));
    assert.deepEqual(held, expected);
  });

  test('a chunk Redis refuses fails the write, and no checkpoint claims it', async () => {
    const fold = bigFold('b');
    // The big index's key already holds a record: its ZADDs fail with WRONGTYPE, after many chunks went out.
    await redis.set(k('b:big'), 'not an index');
    await assert.rejects(fold.flush(redis, k('b:checkpoint'), 43n), /WRONGTYPE/);
    assert.equal(await redis.exists(k('b:checkpoint')), 0);
  });
});
