/**
 * Results travel on a Redis stream read by the control plane's consumer group: each posted result is
 * recorded, the stream then holds nothing (it holds exactly what is not recorded yet, which is what
 * hasLiveJob and pendingResults report), a result whose recording fails is taken again, a result read
 * by a process that died is taken over, and a Redis that lost the stream and its group is read again.
 * A result no take can record is dead-lettered, listed, counted and retried (once, however many
 * operators retry at the same time).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { RESULTS_GROUP, resultsStreamKey, type ResultMessage } from '../../src/application/jobs.js';
import { ResultStreamReader, type ResultStreamOptions } from '../../src/application/result-stream-reader.js';
import { QueueHub } from '../../src/workers/queue-hub.js';
import { redisOptions } from '../../src/runtime/redis-connection.js';
import { testRedisUrl } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';
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
  const own = redisForTest('vltest-results');
  const { redis, prefix } = own;
  const key = resultsStreamKey(prefix);
  let hub: QueueHub;
  let reader: ResultStreamReader | undefined;
  const recorded: Array<{ id: string; operationId: string }> = [];
  let refuse = new Set<string>();
  /** Results no take can record (a bug, not an outage). */
  let broken = new Set<string>();

  const startReader = (consumer: string, extra: Partial<ResultStreamOptions> = {}) => {
    reader = new ResultStreamReader(
      { ...redisOptions(testRedisUrl()), maxRetriesPerRequest: null },
      { key, group: RESULTS_GROUP, consumer, concurrency: 4, blockMs: 100, claimIdleMs: 300, ...extra },
      (id, message) => {
        const operationId = (message as { operationId: string }).operationId;
        if (broken.has(id)) return Promise.reject(new Error(`no such step for ${operationId}`));
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
    hub = new QueueHub({
      connection: redisOptions(testRedisUrl()),
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
    broken = new Set();
    await redis.del(key, `${key}:dead`);
  });
  after(async () => {
    await hub.close();
    await own.cleanup();
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

  test('a result no take can record is moved to the dead-letter stream with its reason after maxDeliveries, the rest recorded', async () => {
    broken = new Set(['o10.started']);
    startReader('c1', { claimIdleMs: 50, maxDeliveries: 3 });
    await hub.postResult('o10.started', started('o10'));
    await hub.postResult('o11.started', started('o11'));
    await waitFor(async () => (await redis.xlen(`${key}:dead`)) === 1, { what: 'the broken result dead-lettered' });
    const [[, fields]] = (await redis.xrange(`${key}:dead`, '-', '+')) as Array<[string, string[]]>;
    const field = (name: string) => fields[fields.indexOf(name) + 1];
    assert.match(field('reason')!, /no such step for o10/, 'the last reason is kept');
    assert.match(field('m')!, /"operationId":"o10"/, 'the result is kept whole');
    assert.deepEqual(recordedIds(), ['o11.started'], 'the other result was recorded');
    await waitFor(async () => (await hub.pendingResults()) === 0, { what: 'nothing left on the stream' });
    const [group] = (await redis.xinfo('GROUPS', key)) as unknown[][];
    assert.equal(group?.[group.indexOf('pending') + 1], 0, 'nothing left pending: out of the retry loop');

    // As operators list it: the ids of the result, how often it was taken, why it was given up.
    const [dead] = await hub.deadResults(10);
    assert.deepEqual(
      { ...dead!, id: undefined, deadAt: undefined },
      {
        id: undefined,
        resultId: 'o10.started',
        kind: 'started',
        operationId: 'o10',
        step: 'define',
        vmId: 'vm-1',
        volumeId: null,
        hostId: null,
        reason: 'no such step for o10',
        deliveries: 4,
        deadAt: undefined,
      },
    );
    assert.deepEqual(await hub.resultCounts(), { pending: 0, waiting: 0, deadLettered: 1 });
    // Fixed: two retries at once put it back once, and it is recorded once, under its own id.
    broken = new Set();
    const [a, b] = await Promise.all([hub.retryDeadResult(dead!.id), hub.retryDeadResult(dead!.id)]);
    assert.equal([a, b].filter(Boolean).length, 1, 'one retry found it; the other found nothing');
    await waitFor(() => recorded.length === 2, { what: 'the retried result recorded' });
    assert.deepEqual(recordedIds(), ['o10.started', 'o11.started']);
    await waitFor(async () => (await hub.pendingResults()) === 0, { what: 'the stream emptied again' });
    assert.deepEqual(await hub.resultCounts(), { pending: 0, waiting: 0, deadLettered: 0 });
    const [entryFields] = (await redis.xrange(key, '-', '+')) as Array<[string, string[]]>;
    assert.equal(entryFields, undefined, 'recorded, acknowledged and deleted');
  });

  test('counts: posted and unread results are waiting, read and unacknowledged ones pending; no group yet: all waiting', async () => {
    await hub.postResult('o20.started', started('o20'));
    await hub.postResult('o21.started', started('o21'));
    assert.deepEqual(await hub.resultCounts(), { pending: 0, waiting: 2, deadLettered: 0 }, 'before any control plane');
    await redis.xgroup('CREATE', key, RESULTS_GROUP, '0', 'MKSTREAM');
    // A control plane read one and has not recorded it yet.
    await redis.xreadgroup('GROUP', RESULTS_GROUP, 'busy', 'COUNT', 1, 'STREAMS', key, '>');
    assert.deepEqual(await hub.resultCounts(), { pending: 1, waiting: 1, deadLettered: 0 });
  });

  test('retry and discard of an id not on the dead-letter stream change nothing', async () => {
    await hub.postResult('o22.started', started('o22'));
    assert.equal(await hub.retryDeadResult('1-0'), undefined);
    assert.equal(await hub.discardDeadResult('1-0'), undefined);
    assert.equal(await redis.xlen(key), 1);
    assert.equal(await redis.exists(`${key}:dead`), 0);
  });

  test('hasLiveJob matches the operation id, not an entry merely mentioning it, and skips a malformed entry', async () => {
    await redis.xadd(key, '*', 'id', 'bad', 'm', '{not json o30');
    // Its VM id happens to be the other operation's id: the text holds it, the operation is not it.
    await hub.postResult('x.started', {
      kind: 'started',
      vmId: 'o30',
      operationId: 'o31',
      step: 'define',
      jobId: 'job-o31',
      principal: 'alice',
    });
    assert.equal(await hub.hasLiveJob('h1', 'o30'), false);
    assert.equal(await hub.hasLiveJob('h1', 'o31'), true);
  });

  test('consumer names: a stopped reader removes its own, a start removes long-idle ones with nothing pending, never one holding entries', async () => {
    await redis.xgroup('CREATE', key, RESULTS_GROUP, '0', 'MKSTREAM');
    await hub.postResult('o12.started', started('o12'));
    // 'holder' read the entry and holds it; 'gone' read nothing (a process killed long ago).
    await redis.xreadgroup('GROUP', RESULTS_GROUP, 'holder', 'COUNT', 10, 'STREAMS', key, '>');
    await redis.xgroup('CREATECONSUMER', key, RESULTS_GROUP, 'gone');
    const names = async () =>
      ((await redis.xinfo('CONSUMERS', key, RESULTS_GROUP)) as unknown[][]).map((c) => c[c.indexOf('name') + 1]).sort();
    // Takes nothing over (claimIdleMs long), counts every idle consumer as gone (goneConsumerIdleMs 0).
    startReader('c3', { claimIdleMs: 60_000, goneConsumerIdleMs: 0 });
    await waitFor(async () => !(await names()).includes('gone'), { what: 'the gone consumer removed' });
    assert.deepEqual(
      await names(),
      ['holder'],
      'the holder of a pending entry is kept: removing it would drop the entry',
    );
    // c3 is in the group once it has read an entry (Redis 7.0 names a blocked reader only then).
    await hub.postResult('o13.started', started('o13'));
    await waitFor(() => recorded.length === 1, { what: 'c3 recorded a result' });
    await waitFor(async () => (await names()).includes('c3'), { what: 'c3 in the group' });
    await reader!.stop();
    reader = undefined;
    assert.deepEqual(await names(), ['holder'], 'the stopped reader removed its own name');
  });
});
