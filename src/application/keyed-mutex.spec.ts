import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inLanes, KeyedMutex, laneOf } from './keyed-mutex.js';

/** A promise the test resolves when it chooses: no timers, the order is the test's. */
function gate(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { open, wait };
}

describe('KeyedMutex', () => {
  test('holders of one key run one at a time, in arrival order; other keys are not held up', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    const first = gate();
    const a1 = m.run('a', async () => {
      order.push('a1 in');
      await first.wait;
      order.push('a1 out');
    });
    const a2 = m.run('a', async () => {
      order.push('a2');
    });
    await m.run('b', async () => {
      order.push('b');
    });
    assert.deepEqual(order, ['a1 in', 'b'], 'b ran while a1 held a; a2 waits');
    first.open();
    await Promise.all([a1, a2]);
    assert.deepEqual(order, ['a1 in', 'b', 'a1 out', 'a2']);
  });

  test('a failing holder releases the key and its error reaches only its caller', async () => {
    const m = new KeyedMutex();
    await assert.rejects(
      m.run('a', () => Promise.reject(new Error('boom'))),
      /boom/,
    );
    assert.equal(await m.run('a', () => Promise.resolve(7)), 7);
  });
});

describe('inLanes', () => {
  test('one key keeps its order while keys in other lanes interleave; every item runs once', async () => {
    const items = Array.from({ length: 60 }, (_, i) => ({ key: `vm-${i % 6}`, seq: Math.floor(i / 6) }));
    const seen = new Map<string, number[]>();
    await inLanes(
      items,
      4,
      (it) => it.key,
      async (it) => {
        await Promise.resolve();
        seen.set(it.key, [...(seen.get(it.key) ?? []), it.seq]);
      },
    );
    for (const [, seqs] of seen) assert.deepEqual(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(seen.size, 6);
  });

  test('a lane that fails rejects after every other lane finished', async () => {
    const done: string[] = [];
    const keys = ['x', 'y', 'z', 'w'];
    const failing = keys[0]!;
    await assert.rejects(
      inLanes(
        keys,
        4,
        (k) => k,
        async (k) => {
          if (k === failing) throw new Error(`lane of ${k}`);
          await Promise.resolve();
          done.push(k);
        },
      ),
      /lane of x/,
    );
    const sameLane = keys.filter((k) => k !== failing && laneOf(k, 4) === laneOf(failing, 4));
    assert.deepEqual(done.sort(), keys.filter((k) => k !== failing && !sameLane.includes(k)).sort());
  });

  test('laneOf is stable and within range', () => {
    for (const k of ['a', 'vm-1', 'vm-0123456789abcdef']) {
      assert.equal(laneOf(k, 16), laneOf(k, 16));
      assert.ok(laneOf(k, 16) >= 0 && laneOf(k, 16) < 16);
    }
  });
});
