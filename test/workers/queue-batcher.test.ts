/**
 * Adds to one queue that come in the same turn go to Redis in one pipeline: every job is on the
 * queue with its own id, data and options, in the order they were handed in; an add refused by
 * BullMQ fails alone; an id already on the queue stays one job.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { QueueBatcher } from '../../src/workers/queue-batcher.js';
import { redisOptions } from '../../src/runtime/redis-connection.js';
import { testRedisUrl } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';

describe('QueueBatcher', () => {
  const own = redisForTest('vltest-batch');
  const { prefix } = own;
  let queue: Queue;
  let bulkCalls = 0;

  before(() => {
    queue = new Queue('batched', { connection: redisOptions(testRedisUrl()), prefix });
    const addBulk = queue.addBulk.bind(queue);
    queue.addBulk = (jobs) => {
      bulkCalls++;
      return addBulk(jobs);
    };
  });
  after(async () => {
    await queue.close();
    await own.cleanup();
  });

  test('adds of one turn are one pipeline; each job keeps its id, data and options, in order', async () => {
    const batcher = new QueueBatcher(queue);
    const before = bulkCalls;
    const ids = ['a1', 'a2', 'a3', 'a4'];
    await Promise.all(ids.map((id, i) => batcher.add('step', { i }, { jobId: id, attempts: 3 + i })));
    assert.equal(bulkCalls - before, 1, 'one addBulk for the four adds');
    for (const [i, id] of ids.entries()) {
      const job = await queue.getJob(id);
      assert.ok(job, `job ${id} is on the queue`);
      assert.deepEqual(job.data, { i });
      assert.equal(job.name, 'step');
      assert.equal(job.opts.attempts, 3 + i);
    }
    // Waiting in the order handed in, as with adds one at a time.
    assert.deepEqual(
      (await queue.getWaiting()).map((j) => j.id),
      ids,
    );
  });

  test('an add refused by BullMQ fails alone; the others are queued', async () => {
    const batcher = new QueueBatcher(queue);
    const outcomes = await Promise.allSettled([
      batcher.add('step', { ok: 1 }, { jobId: 'b1' }),
      batcher.add('step', { bad: true }, { jobId: 'b2', priority: 1.5 }),
      batcher.add('step', { ok: 3 }, { jobId: 'b3' }),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.ok(await queue.getJob('b1'));
    assert.equal(await queue.getJob('b2'), undefined);
    assert.ok(await queue.getJob('b3'));
  });

  test('an id already on the queue stays one job, batched or not', async () => {
    const batcher = new QueueBatcher(queue);
    await batcher.add('step', { first: true }, { jobId: 'c1' });
    await Promise.all([
      batcher.add('step', { first: false }, { jobId: 'c1' }),
      batcher.add('step', { first: false }, { jobId: 'c1' }),
    ]);
    assert.deepEqual((await queue.getJob('c1'))?.data, { first: true });
    assert.equal((await queue.getWaiting()).filter((j) => j.id === 'c1').length, 1);
  });

  test('an add alone, or flushed before the end of its turn, is queued as well', async () => {
    const batcher = new QueueBatcher(queue);
    await batcher.add('step', { alone: true }, { jobId: 'd0' });
    const early = [1, 2].map((i) => batcher.add('step', { i }, { jobId: `d${i}` }));
    batcher.flush();
    await Promise.all(early);
    for (const id of ['d0', 'd1', 'd2']) assert.ok(await queue.getJob(id), `job ${id} is on the queue`);
  });
});
