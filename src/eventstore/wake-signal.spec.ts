import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WakeSignal } from './wake-signal.js';

describe('WakeSignal', () => {
  test('a notify wakes every waiter (true); a notify that came before the wait began counts too', async () => {
    const wake = new WakeSignal();
    const signal = new AbortController().signal;
    const seen = wake.current;
    const waiting = [wake.wait(seen, 60_000, signal), wake.wait(seen, 60_000, signal)];
    wake.notify();
    assert.deepEqual(await Promise.all(waiting), [true, true]);
    assert.equal(await wake.wait(seen, 60_000, signal), true, 'the notify after `seen` is not lost');
  });

  test('a wait that times out or is aborted answers false', async () => {
    const wake = new WakeSignal();
    assert.equal(await wake.wait(wake.current, 1, new AbortController().signal), false);
    const abort = new AbortController();
    const waiting = wake.wait(wake.current, 60_000, abort.signal);
    abort.abort();
    assert.equal(await waiting, false);
  });

  test('advance() moves past a version once, without waking anyone', async () => {
    const wake = new WakeSignal();
    const signal = new AbortController().signal;
    const seen = wake.current;
    let woken = false;
    const other = new AbortController();
    const waiting = wake.wait(seen, 60_000, other.signal).then((notified) => (woken = notified));
    wake.advance(seen);
    wake.advance(seen);
    assert.equal(wake.current, seen + 1, 'a second poller of the same version does not move it again');
    // Nobody was woken: the waiter ends only by its abort.
    other.abort();
    await waiting;
    assert.equal(woken, false);
    // A wait begun from the old version returns at once: a read newer than it is due.
    assert.equal(await wake.wait(seen, 60_000, signal), true);
  });

  test('one abort listener per signal however often it waits; an abort ends every wait on it', async () => {
    const wake = new WakeSignal();
    const abort = new AbortController();
    let added = 0;
    const add = abort.signal.addEventListener.bind(abort.signal);
    abort.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
      added++;
      add(...args);
    }) as AbortSignal['addEventListener'];
    for (let i = 0; i < 5; i++) {
      const waiting = wake.wait(wake.current, 60_000, abort.signal);
      wake.notify();
      assert.equal(await waiting, true);
    }
    const waiting = [wake.wait(wake.current, 60_000, abort.signal), wake.wait(wake.current, 60_000, abort.signal)];
    abort.abort();
    assert.deepEqual(await Promise.all(waiting), [false, false]);
    assert.equal(added, 1);
    assert.equal(
      await wake.wait(wake.current, 60_000, abort.signal),
      false,
      'a wait on an aborted signal ends at once',
    );
  });
});
