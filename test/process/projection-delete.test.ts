/**
 * A released allocation is a key the hosts read model deletes: every way a projection's writes
 * reach Redis (a live page's MULTI, the fenced script, a replay's fold written in parts) must
 * take the key out, and a live runner's cache must answer it absent afterwards.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveTx } from '../../src/projections/live-tx.js';
import { MemoryFold } from '../../src/projections/memory-fold.js';
import { RecordCache } from '../../src/projections/record-cache.js';
import { RedisProjectionTx } from '../../src/projections/redis-projection-tx.js';
import { redisForTest } from '../support/redis-for-test.js';

describe('projection transactions delete keys', () => {
  const own = redisForTest('vltest-del');
  const { redis, key: k } = own;
  const checkpoint = k('checkpoint');
  after(() => own.cleanup());

  test('a MULTI and the fenced script delete; a delete rolled back with its event is not done', async () => {
    const fence = { key: k('fence'), value: 'owner/1' };
    await redis.set(fence.key, fence.value);
    const add = new RedisProjectionTx(redis);
    for (const n of ['a', 'b', 'c']) add.set(k(n), { n });
    await add.commit(checkpoint, 1n);

    const plain = new RedisProjectionTx(redis);
    plain.del(k('a'));
    assert.equal(await plain.get(k('a')), undefined, 'the transaction reads its own delete');
    await plain.commit(checkpoint, 2n);
    assert.equal(await redis.exists(k('a')), 0);

    const fenced = new RedisProjectionTx(redis);
    fenced.del(k('b'));
    fenced.set(k('d'), { n: 'd' });
    await fenced.commit(checkpoint, 3n, fence);
    assert.equal(await redis.exists(k('b')), 0);
    assert.deepEqual(JSON.parse((await redis.get(k('d')))!), { n: 'd' });

    const rolled = new RedisProjectionTx(redis);
    rolled.mark();
    rolled.del(k('c'));
    rolled.rollback();
    await rolled.commit(checkpoint, 4n, fence);
    assert.deepEqual(JSON.parse((await redis.get(k('c')))!), { n: 'c' });
  });

  test("a live page's delete leaves its runner's cache answering absent, even a cache that holds every key", async () => {
    const cache = new RecordCache();
    cache.reset(true);
    const first = new LiveTx(redis, cache);
    first.set(k('live'), { v: 1 });
    await first.commit(checkpoint, 5n);
    const second = new LiveTx(redis, cache);
    assert.deepEqual(await second.get(k('live')), { v: 1 });
    second.del(k('live'));
    await second.commit(checkpoint, 6n);
    assert.equal(await new LiveTx(redis, cache).get(k('live')), undefined);
    assert.equal(await redis.exists(k('live')), 0);
  });

  test('a fold written in parts deletes what it deleted since, and keeps what was deleted then written again', async () => {
    const fold = new MemoryFold();
    fold.set(k('f1'), 1);
    fold.set(k('f2'), 2);
    fold.set(k('gone-before-flush'), 0);
    fold.del(k('gone-before-flush'));
    await fold.flush(redis, checkpoint, 7n);
    assert.equal(await redis.exists(k('gone-before-flush')), 0);
    fold.del(k('f1'));
    fold.del(k('f2'));
    fold.set(k('f2'), 22);
    await fold.flush(redis, checkpoint, 8n);
    assert.equal(await redis.exists(k('f1')), 0);
    assert.equal(await redis.get(k('f2')), '22');
    assert.deepEqual(fold.keys().sort(), [k('f2')]);
  });
});
