import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFold } from './memory-fold.js';

describe('MemoryFold rollback (a poison event undone alone)', () => {
  it('undoes only the last event, however many writes the events before it made', () => {
    const fold = new MemoryFold();
    // A first event with many writes: its undo entries outnumber the next event's.
    fold.mark();
    for (let i = 0; i < 10; i++) fold.set(`r${i}`, i);
    for (let i = 0; i < 10; i++) fold.index('z', i, `m${i}`);
    // The poison event writes less than the first did.
    fold.mark();
    fold.set('r0', 'changed');
    fold.set('new', 1);
    fold.index('z', 99, 'm0');
    fold.unindex('z', 'm1');
    fold.rollback();
    assert.equal(fold.peek('r0'), 0);
    assert.equal(fold.peek('new'), undefined);
    assert.equal(fold.storedType('new'), undefined);
    for (let i = 1; i < 10; i++) assert.equal(fold.peek(`r${i}`), i, `r${i} is the first event's write`);
    const view = fold.snapshot(
      (k) => k,
      () => true,
    );
    assert.deepEqual(view.get('z'), {
      type: 'zset',
      members: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`m${i}`, i])),
    });
    // A rollback right after mark() (the event wrote nothing) undoes nothing.
    fold.mark();
    fold.rollback();
    assert.equal(fold.peek('r9'), 9);
    assert.equal(fold.keys().length, 11);
  });
});

describe('MemoryFold key version (a list of its keys stays valid while no key comes or goes)', () => {
  it('moves when a record or an index appears or goes, not when a value or a score changes', () => {
    const fold = new MemoryFold();
    fold.mark();
    fold.set('a', 1);
    fold.index('z', 1, 'm1');
    const v = fold.keyVersion;
    fold.set('a', 2);
    fold.index('z', 2, 'm1');
    fold.index('z', 3, 'm2');
    fold.unindex('z', 'm2');
    assert.equal(fold.keyVersion, v, 'values and members changed, the keys did not');
    const moved: Array<[string, () => void]> = [
      ['a new record', () => fold.set('b', 1)],
      ['a record deleted', () => fold.del('b')],
      ['a new index', () => fold.index('y', 1, 'm')],
      ['an index emptied', () => fold.unindex('y', 'm')],
      [
        'a rolled-back event',
        () => {
          fold.mark();
          fold.set('a', 3);
          fold.rollback();
        },
      ],
    ];
    for (const [what, change] of moved) {
      const before = fold.keyVersion;
      change();
      assert.notEqual(fold.keyVersion, before, what);
    }
  });
});
