import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HOST_IDS_GUESS_MS, RecentHostIds } from './recent-host-ids.js';

describe('RecentHostIds', () => {
  /** A read model whose host index the test sets, counting reads; a clock the test moves. */
  function setup() {
    const model = { ids: ['h1'], reads: 0 };
    let clock = 0;
    const recent = new RecentHostIds(
      async () => {
        model.reads++;
        return [...model.ids];
      },
      () => clock,
    );
    return { model, recent, advance: (ms: number) => (clock += ms) };
  }

  test('guesses within the window take the ids read once; after it they are read again', async () => {
    const { model, recent, advance } = setup();
    assert.deepEqual(await recent.toGuess(), ['h1']);
    model.ids.push('h2');
    advance(HOST_IDS_GUESS_MS - 1);
    assert.deepEqual(await recent.toGuess(), ['h1']);
    assert.equal(model.reads, 1);
    advance(1);
    assert.deepEqual(await recent.toGuess(), ['h1', 'h2']);
    assert.equal(model.reads, 2);
  });

  test('a fresh read always asks the read model, and the next guess takes what it found', async () => {
    const { model, recent } = setup();
    await recent.toGuess();
    model.ids.push('h2');
    assert.deepEqual(await recent.fresh(), ['h1', 'h2']);
    assert.deepEqual(await recent.toGuess(), ['h1', 'h2']);
    assert.equal(model.reads, 2);
  });
});
