/**
 * virtledger_operations{kind,status} at scrape time without reading every operation
 * ever recorded: OperationTally against a real Redis holding the operations read model
 * laid out as the projection writes it (JSON records + an index scored by log position).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import { OperationTally, type OperationCount } from '../../src/runtime/metrics-operations.js';
import { redisForTest } from '../support/redis-for-test.js';

function byKey(counts: OperationCount[]): Record<string, number> {
  return Object.fromEntries(counts.map((c) => [`${c.kind}/${c.status}`, c.count]));
}

describe('metrics: operations by kind and status, counted incrementally', () => {
  const own = redisForTest('vlops', { maxRetriesPerRequest: 1 });
  const { redis } = own;
  const keys = new ReadModelKeys(own.prefix);

  async function put(position: number, id: string, kind: string, status: string): Promise<void> {
    await redis
      .multi()
      .set(keys.operation(id), JSON.stringify({ id, kind, status }))
      .zadd(keys.operationIndex(), position, id)
      .exec();
  }

  after(() => own.cleanup());

  test('finished operations are counted once; running ones are read again until they finish; new ones are added', async () => {
    const tally = new OperationTally(redis, keys);
    assert.deepEqual(await tally.count(), []);
    await put(1, 'a', 'create', 'succeeded');
    await put(5, 'b', 'start', 'running');
    await put(9, 'c', 'stop', 'failed');
    assert.deepEqual(byKey(await tally.count()), { 'create/succeeded': 1, 'start/running': 1, 'stop/failed': 1 });

    await put(5, 'b', 'start', 'succeeded');
    await put(12, 'd', 'create', 'pending');
    assert.deepEqual(byKey(await tally.count()), {
      'create/succeeded': 1,
      'start/succeeded': 1,
      'stop/failed': 1,
      'create/pending': 1,
    });

    // Everything up to position 9 is settled now: its records are not read again.
    await redis.set(
      keys.operation('a'),
      JSON.stringify({ id: 'a', kind: 'create', status: 'changed-behind-our-back' }),
    );
    await put(12, 'd', 'create', 'cancelled');
    assert.deepEqual(byKey(await tally.count()), {
      'create/succeeded': 1,
      'start/succeeded': 1,
      'stop/failed': 1,
      'create/cancelled': 1,
    });
  });

  test('a read model that shrank (Redis wiped, being rebuilt) is counted again from the start', async () => {
    const tally = new OperationTally(redis, keys);
    await redis.del(keys.operationIndex());
    await put(1, 'a', 'create', 'succeeded');
    await put(2, 'b', 'create', 'succeeded');
    await put(3, 'c', 'create', 'failed');
    assert.deepEqual(byKey(await tally.count()), { 'create/succeeded': 2, 'create/failed': 1 });
    await redis.del(keys.operationIndex());
    await put(1, 'a', 'create', 'succeeded');
    assert.deepEqual(byKey(await tally.count()), { 'create/succeeded': 1 });
  });

  test('more operations than one page (500) are all counted', async () => {
    const tally = new OperationTally(redis, keys);
    await redis.del(keys.operationIndex());
    const multi = redis.multi();
    for (let i = 0; i < 1201; i++) {
      const status = i === 700 ? 'running' : 'succeeded';
      multi.set(keys.operation(`p${i}`), JSON.stringify({ id: `p${i}`, kind: 'reboot', status }));
      multi.zadd(keys.operationIndex(), 100 + i, `p${i}`);
    }
    await multi.exec();
    assert.deepEqual(byKey(await tally.count()), { 'reboot/succeeded': 1200, 'reboot/running': 1 });
    assert.deepEqual(byKey(await tally.count()), { 'reboot/succeeded': 1200, 'reboot/running': 1 });
  });
});
