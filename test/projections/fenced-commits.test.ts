/**
 * The live runners' fenced pages of one turn go to Redis in one script call: each page lands
 * whole with its checkpoint, a stale fence writes none of them, and one page Redis refuses
 * does not keep the others out.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FencedCommits } from '../../src/projections/fenced-commits.js';
import { RedisProjectionTx } from '../../src/projections/redis-projection-tx.js';
import { redisForTest } from '../support/redis-for-test.js';

describe('fenced commits of several runners', () => {
  // A connection of its own: the batcher is per connection, so its counts are this file's.
  const own = redisForTest('vltest-fenced');
  const { redis, key: k } = own;
  const fence = { key: k('lease'), value: 'owner/1|1' };

  before(async () => {
    await redis.set(fence.key, fence.value);
  });
  after(() => own.cleanup());

  test('pages committed in the same turn share one call and each lands with its checkpoint', async () => {
    const stats = FencedCommits.of(redis).stats;
    const before = { ...stats };
    await redis.set(k('vms:gone'), '{"n":0}');
    const vms = new RedisProjectionTx(redis);
    vms.set(k('vms:1'), { state: 'running' });
    vms.del(k('vms:gone'));
    vms.index(k('vms:idx'), 1, 'vm-1');
    vms.index(k('vms:idx'), 2, 'vm-2');
    vms.unindex(k('vms:idx'), 'vm-1');
    const hosts = new RedisProjectionTx(redis);
    hosts.set(k('hosts:h'), { vms: 1 });
    // A read model the page does not touch still moves its checkpoint.
    const images = new RedisProjectionTx(redis);
    await Promise.all([
      vms.commit(k('checkpoint:vms'), 9n, fence),
      hosts.commit(k('checkpoint:hosts'), 9n, fence),
      images.commit(k('checkpoint:images'), 9n, fence),
    ]);
    assert.equal(stats.calls - before.calls, 1, 'one script call');
    assert.equal(stats.pages - before.pages, 3);
    assert.deepEqual(JSON.parse((await redis.get(k('vms:1')))!), { state: 'running' });
    assert.equal(await redis.exists(k('vms:gone')), 0);
    assert.deepEqual(await redis.zrange(k('vms:idx'), 0, -1), ['vm-2']);
    assert.deepEqual(JSON.parse((await redis.get(k('hosts:h')))!), { vms: 1 });
    const checkpoints = await redis.mget(k('checkpoint:vms'), k('checkpoint:hosts'), k('checkpoint:images'));
    assert.deepEqual(checkpoints, ['9', '9', '9']);
  });

  test('a stale fence refuses every page of the call and writes nothing', async () => {
    await redis.set(fence.key, 'next-owner/2|2');
    const a = new RedisProjectionTx(redis);
    a.set(k('vms:1'), { state: 'stopped' });
    const b = new RedisProjectionTx(redis);
    b.index(k('vms:idx'), 3, 'vm-3');
    const results = await Promise.allSettled([
      a.commit(k('checkpoint:vms'), 10n, fence),
      b.commit(k('checkpoint:hosts'), 10n, fence),
    ]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), /FENCED/);
    }
    assert.deepEqual(JSON.parse((await redis.get(k('vms:1')))!), { state: 'running' }, 'nothing written');
    assert.deepEqual(await redis.zrange(k('vms:idx'), 0, -1), ['vm-2']);
    assert.deepEqual(await redis.mget(k('checkpoint:vms'), k('checkpoint:hosts')), ['9', '9']);
    await redis.set(fence.key, fence.value);
  });

  test('a page Redis refuses fails alone; the other page of the call lands', async () => {
    // A string where the page writes an index: ZADD answers WRONGTYPE.
    await redis.set(k('broken:idx'), 'not a sorted set');
    const broken = new RedisProjectionTx(redis);
    broken.index(k('broken:idx'), 1, 'x');
    const good = new RedisProjectionTx(redis);
    good.set(k('hosts:h'), { vms: 2 });
    const [b, g] = await Promise.allSettled([
      broken.commit(k('checkpoint:broken'), 11n, fence),
      good.commit(k('checkpoint:hosts'), 11n, fence),
    ]);
    assert.equal(b.status, 'rejected');
    assert.match(String((b as PromiseRejectedResult).reason), /WRONGTYPE/);
    assert.equal(await redis.get(k('checkpoint:broken')), null, 'a page not written whole is not marked applied');
    assert.equal(g.status, 'fulfilled');
    assert.deepEqual(JSON.parse((await redis.get(k('hosts:h')))!), { vms: 2 });
    assert.equal(await redis.get(k('checkpoint:hosts')), '11');
  });
});
