/**
 * A rebuild plans its swap (every shadow key's live name, the live keys to delete) before the
 * live runner's pause and reuses the plan under it. Against a real Redis: swapped with the plan
 * or without, the live read model ends the same; and a plan made before the catch-up under the
 * pause added a key is not used (the new key is swapped in, the live key it replaces is not
 * deleted as stale).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Projection } from '../../src/projections/projection.js';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import { planSwap, swapReadModel } from '../../src/projections/swap-read-model.js';
import { redisForTest } from '../support/redis-for-test.js';

const projection: Projection = {
  name: 'plan',
  owns: (relativeKey) => relativeKey.startsWith('rec:'),
  apply: async () => undefined,
};

describe('a swap planned before the pause', () => {
  const own = redisForTest('vlswapplan');
  const { redis, prefix } = own;
  after(() => own.cleanup());

  /** A live read model (rec:a, rec:b, rec:old) and a shadow of rec:a, rec:b (+ rec:c when `late`). */
  async function given(ns: string, late: boolean) {
    const live = new ReadModelKeys(`${prefix}:${ns}`);
    const shadow = live.shadow('s');
    for (const id of ['a', 'b', 'old']) await redis.set(`${live.root}rec:${id}`, `live-${id}`);
    for (const id of ['a', 'b']) await redis.set(`${shadow.root}rec:${id}`, `shadow-${id}`);
    const listed = ['a', 'b', 'old'].map((id) => `${live.root}rec:${id}`);
    const planned = ['a', 'b'].map((id) => `${shadow.root}rec:${id}`);
    if (late) await redis.set(`${shadow.root}rec:c`, 'shadow-c');
    return { live, shadow, listed, planned };
  }

  const read = async (live: ReadModelKeys) =>
    Object.fromEntries(
      await Promise.all(['a', 'b', 'c', 'old'].map(async (id) => [id, await redis.get(`${live.root}rec:${id}`)])),
    );

  test('with its plan or without, the live read model ends the same', async () => {
    const ends = [];
    for (const withPlan of [true, false]) {
      const { live, shadow, listed, planned } = await given(withPlan ? 'p' : 'n', false);
      const plan = withPlan ? planSwap(live, shadow, listed, planned) : undefined;
      const result = await swapReadModel(redis, projection, live, shadow, 7n, planned, listed, plan);
      assert.deepEqual(result, { swapped: 2, deleted: 1 });
      assert.equal(await redis.get(live.checkpoint('plan')), '7');
      ends.push(await read(live));
    }
    assert.deepEqual(ends[0], { a: 'shadow-a', b: 'shadow-b', c: null, old: null });
    assert.deepEqual(ends[0], ends[1]);
  });

  test('a plan made before the catch-up added a key is not used', async () => {
    const { live, shadow, listed, planned } = await given('late', true);
    const plan = planSwap(live, shadow, listed, planned);
    // The catch-up under the pause folded an event: the shadow's key list is a new one.
    await redis.set(`${live.root}rec:c`, 'live-c');
    const known = [...planned, `${shadow.root}rec:c`];
    const result = await swapReadModel(redis, projection, live, shadow, 8n, known, [...listed], plan);
    assert.deepEqual(result, { swapped: 3, deleted: 1 });
    assert.deepEqual(await read(live), { a: 'shadow-a', b: 'shadow-b', c: 'shadow-c', old: null });
  });
});
