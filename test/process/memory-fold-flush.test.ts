/**
 * A rebuild writes its fold out in chunks cut by size (a few dozen KiB per pipeline, many in
 * flight): every record and index member must arrive whatever the cut, the checkpoint only after
 * all of them, and a chunk refused by Redis must fail the write without the checkpoint; a later
 * flush must carry a removal that a rolled-back event had undone and redone.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFold } from '../../src/projections/memory-fold.js';
import { redisForTest } from '../support/redis-for-test.js';

describe('a fold written out in size-cut chunks', () => {
  const own = redisForTest('vltest-flush');
  const { redis, key: k } = own;
  after(() => own.cleanup());

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

  test('after a flush, a member removed and then added back by a rolled-back event is gone from Redis too', async () => {
    const fold = new MemoryFold();
    fold.mark();
    fold.index(k('c:idx'), 1, 'stays');
    fold.index(k('c:idx'), 2, 'leaves');
    fold.set(k('c:rec'), { v: 1 });
    await fold.flush(redis, k('c:checkpoint'), 1n);
    // A pass after the first write (a rebuild's catch-up): the member leaves the index...
    fold.mark();
    fold.unindex(k('c:idx'), 'leaves');
    // ...and a poison event puts it back before it is rolled back, alone.
    fold.mark();
    fold.index(k('c:idx'), 3, 'leaves');
    fold.set(k('c:rec'), { v: 2 });
    fold.rollback();
    await fold.flush(redis, k('c:checkpoint'), 3n);
    assert.deepEqual(await redis.zrange(k('c:idx'), 0, -1, 'WITHSCORES'), ['stays', '1']);
    assert.equal(await redis.get(k('c:rec')), JSON.stringify({ v: 1 }));
    assert.deepEqual(
      fold.snapshot(
        (key) => key,
        (key) => key === k('c:idx'),
      ),
      new Map([[k('c:idx'), { type: 'zset', members: { stays: 1 } }]]),
    );
  });

  test('a chunk Redis refuses fails the write, and no checkpoint claims it', async () => {
    const fold = bigFold('b');
    // The big index's key already holds a record: its ZADDs fail with WRONGTYPE, after many chunks went out.
    await redis.set(k('b:big'), 'not an index');
    await assert.rejects(fold.flush(redis, k('b:checkpoint'), 43n), /WRONGTYPE/);
    assert.equal(await redis.exists(k('b:checkpoint')), 0);
  });
});
