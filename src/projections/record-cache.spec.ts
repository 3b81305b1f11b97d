import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RecordCache } from './record-cache.js';
import { StreamRevisions } from './stream-revisions.js';

describe('RecordCache', () => {
  test('keeps the most recently used records up to its limit; dropping one ends "complete"', () => {
    const c = new RecordCache(2);
    c.reset(true);
    c.set('a', { n: 1 });
    c.set('b', { n: 2 });
    assert.deepEqual(c.get('a'), { n: 1 }, 'a read makes a the most recent');
    assert.equal(c.complete, true);
    c.set('c', { n: 3 });
    assert.equal(c.get('b'), undefined, 'b, least recently used, was dropped');
    assert.deepEqual(c.get('a'), { n: 1 });
    assert.equal(c.complete, false, 'a miss can no longer mean "absent"');
  });

  test('reset forgets everything and says whether the read model starts empty', () => {
    const c = new RecordCache();
    c.set('a', 1);
    c.reset(false);
    assert.equal(c.size, 0);
    assert.equal(c.complete, false);
    c.reset(true);
    assert.equal(c.complete, true);
  });
});

describe('StreamRevisions', () => {
  test('a stream is reached at or after its applied revision; a forgotten one is never claimed', () => {
    const r = new StreamRevisions(2);
    r.applied('vm-a', 3n);
    assert.equal(r.reached('vm-a', 3n), true);
    assert.equal(r.reached('vm-a', 4n), false);
    r.applied('vm-b', 0n);
    r.applied('vm-c', 0n);
    assert.equal(r.reached('vm-a', 0n), false, 'vm-a was forgotten: the caller falls back to the position');
    r.clear();
    assert.equal(r.reached('vm-c', 0n), false);
  });
});
