/**
 * Results travel on a Redis stream read by the control plane's consumer group: each posted result is
 * recorded, the stream then holds nothing (it holds exactly what is not recorded yet, which is what
 * hasLiveJob and pendingResults report), a result whose recording fails is taken again, a result read
 * by a process that died is taken over, and a Redis that lost the stream and its group is read again.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { RESULTS_GROUP, resultsStreamKey, type ResultMessage } from '../../src/application/jobs.js';
import { ResultStreamReader } from '../../src/application/result-stream-reader.js';
import { QueueHub } from '../../src/workers/queue-hub.js';
import { deleteKeysWithPrefix } from '../../src/projections/redis-keys.js';
import { testRedisUrl } from '../support/env.js';
import { waitFor } from '../support/wait.js';

const log = pino({ level: 'silent' });

function started(operationId: string): ResultMessage {
  return {
    kind: 'started',
    vmId: 'vm-1',
    operationId,
    step: 'define',
    jobId: `job-${operationId}`,
    principal: 'alice',
  };
}

describe('results stream', () => {
  const prefix = `vltest-results-${randomUUID()}`;
  const key = resultsStreamKey(prefix);
  let redis: Redis;
  let hub: QueueHub;
  let reader: ResultStreamReader | undefined;
  const recorded: Array<{ id: string; operationId: string }> = [];
  let refuse = new Set<string>();

  const startReader = (consumer: string) => {
    const u = new URL(testRedisUrl());
    reader = new ResultStreamReader(
      { host: u.hostname, port: Number(u.port || 6379), maxRetriesPerRequest: null },
      { key, group: RESULTS_GROUP, consumer, concurrency: 4, blockMs: 100, claimIdleMs: 300 },
      (id, message) => {
        const operationId = (message as { operationId: string }).operationId;
        if (refuse.has(id)) {
          refuse.delete(id);
          return Promise.reject(new Error('the store is down'));
        }
        recorded.push({ id, operationId });
        return Promise.resolve();
      },
      log,
    );
    reader.start();
  };
  const recordedIds = () => recorded.map((r) => r.id).sort();

  before(() => {
    const u = new URL(testRedisUrl());
    redis = new Redis(testRedisUrl());
    hub = new QueueHub({
      connection: { host: u.hostname, port: Number(u.port || 6379) },
      prefix,
      attempts: 1,
      backoffMs: 10,
    });
  });
  afterEach(async () => {
    await reader?.stop();
    reader = undefined;
    recorded.length = 0;
    refuse = new Set();
    await redis.del(key);
  });
  after(async () => {
    await hub.close();
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  test('results posted in one turn are all recorded once, under their ids; then none is pending', async () => {
    startReader('c1');
    await Promise.all(['o1', 'o2', 'o3'].map((op) => hub.postResult(`${op}.started`, started(op))));
    await waitFor(() => recorded.length === 3, { what: 'three results recorded' });
    assert.deepEqual(recordedIds(), ['o1.started', 'o2.started', 'o3.started']);
    await waitFor(async () => (await hub.pendingResults()) === 0, { what: 'the stream to be emptied' });
    const [group] = (await redis.xinfo('GROUPS', key)) as unknown[][];
    assert.equal(group?.[group.indexOf('pending') + 1], 0, 'nothing left pending in the group');
    assert.equal(recorded.length, 3, 'none recorded twice');
  });

  test('a result not recorded yet counts as a live job of its operation, and no longer once recorded', async () => {
    await hub.postResult('o4.started', started('o4'));
    assert.equal(await hub.pendingResults(), 1);
    assert.equal(await hub.hasLiveJob('h1', 'o4'), true);
    assert.equal(await hub.hasLiveJob('h1', 'other'), false);
    startReader('c1');
    await waitFor(async () => (await hub.pendingResults()) === 0, { what: 'the result recorded' });
    assert.equal(await hub.hasLiveJob('h1', 'o4'), false);
    assert.deepEqual(recordedIds(), ['o4.started'], 'a result posted before any reader ran is read');
  });

  test('a result whose recording failed stays pending and is recorded on a later take', async () => {
    refuse = new Set(['o5.started']);
    startReader('c1');
    await hub.postResult('o5.started', started('o5'));
    await hub.postResult('o6.started', started('o6'));
    await waitFor(() => recorded.length === 2, { what: 'both results recorded' });
    assert.equal(refuse.size, 0, 'the first take of o5 was refused');
    assert.deepEqual(recordedIds(), ['o5.started', 'o6.started']);
    await waitFor(async () => (await hub.pendingResults()) === 0, { what: 'the stream to be emptied' });
  });

  test('a result read by a process that died before recording it is taken over by another', async () => {
    await redis.xgroup('CREATE', key, RESULTS_GROUP, '0', 'MKSTREAM');
    await hub.postResult('o7.started', started('o7'));
    // The dead process: it read the entry (now pending on it) and never acknowledged it.
    const read = (await redis.xreadgroup('GROUP', RESULTS_GROUP, 'dead', 'COUNT', 10, 'STREAMS', key, '>')) as
      unknown[] | null;
    assert.ok(read, 'the dead consumer read the entry');
    startReader('c2');
    await waitFor(() => recorded.length === 1, { what: 'the dead consumer’s result recorded' });
    assert.deepEqual(recordedIds(), ['o7.started']);
    await waitFor(async () => (await hub.pendingResults()) === 0, { what: 'the stream to be emptied' });
  });

  test('after Redis lost the stream and its group, results are read again', async () => {
    startReader('c1');
    await hub.postResult('o8.started', started('o8'));
    await waitFor(() => recorded.length === 1, { what: 'the first result recorded' });
    // As a Redis restarted without persistence: the stream and the group are gone.
    await redis.del(key);
    await hub.postResult('o9.started', started('o9'));
    await waitFor(() => recorded.length === 2, { what: 'the result posted after the loss recorded' });
    assert.deepEqual(recordedIds(), ['o8.started', 'o9.started']);
  });
});
