/**
 * The result writer: a lone result is one XADD without a pipeline (a pipeline on the BullMQ
 * connection copies its fifty scripts each time it is made), results posted in one turn go in one
 * pipeline in order, and a refused XADD fails its caller, whichever way it was sent.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { RESULT_ID_FIELD, RESULT_MESSAGE_FIELD, type ResultMessage } from '../../src/application/jobs.js';
import { ResultStreamWriter } from '../../src/workers/result-stream-writer.js';
import { redisForTest } from '../support/redis-for-test.js';

const message = (operationId: string): ResultMessage => ({
  kind: 'started',
  vmId: 'vm-1',
  operationId,
  step: 'define',
  jobId: `job-${operationId}`,
  principal: 'alice',
});

describe('result stream writer', () => {
  const own = redisForTest('vltest-rsw');
  const { redis, prefix } = own;
  let pipelines = 0;
  // The real client, counting the pipelines made on it.
  const counted = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop === 'pipeline') pipelines++;
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  after(() => own.cleanup());
  const entries = async (key: string) =>
    (await redis.xrange(key, '-', '+')).map(([, fields]) => [
      fields[fields.indexOf(RESULT_ID_FIELD) + 1],
      (JSON.parse(fields[fields.indexOf(RESULT_MESSAGE_FIELD) + 1]!) as ResultMessage & { operationId: string })
        .operationId,
    ]);

  test('a lone result is one XADD without a pipeline; results of one turn one pipeline, in order', async () => {
    const key = `${prefix}:ok`;
    const writer = new ResultStreamWriter(() => Promise.resolve(counted), key);
    await writer.post('r1', message('op-1'));
    assert.equal(pipelines, 0, 'no pipeline for one result');
    await Promise.all([writer.post('r2', message('op-2')), writer.post('r3', message('op-3'))]);
    assert.equal(pipelines, 1, 'one pipeline for the two of one turn');
    assert.deepEqual(await entries(key), [
      ['r1', 'op-1'],
      ['r2', 'op-2'],
      ['r3', 'op-3'],
    ]);
  });

  test('an XADD Redis refuses fails its caller, alone or in a batch', async () => {
    const key = `${prefix}:wrongtype`;
    await redis.set(key, 'not a stream');
    const writer = new ResultStreamWriter(() => Promise.resolve(counted), key);
    await assert.rejects(writer.post('r1', message('op-1')), /WRONGTYPE/);
    const batch = [writer.post('r2', message('op-2')), writer.post('r3', message('op-3'))];
    for (const p of batch) await assert.rejects(p, /WRONGTYPE/);
  });
});
