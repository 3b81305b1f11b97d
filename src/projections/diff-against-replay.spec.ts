import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryFold } from './memory-fold.js';
import { diffAgainstReplay, diffSnapshots } from './read-model-diff.js';
import { toStoredValue, type RawSnapshot, type RawValue, type ReadModelSnapshot } from './read-model-snapshot.js';

const root = 'vl:shadow:x:rm:';
const owns = (k: string): boolean => k.startsWith('vm:') || k === 'vms' || k.startsWith('ops');
const record = (v: unknown): RawValue => ({ type: 'string', value: JSON.stringify(v) });
const index = (...pairs: Array<[string, number]>): RawValue => ({
  type: 'zset',
  flat: pairs.flatMap(([m, s]) => [m, String(s)]),
});

/** A fold holding the replayed side; the live side as read from Redis. */
function sides(live: Array<[string, RawValue]>): { fold: MemoryFold; live: RawSnapshot } {
  const fold = new MemoryFold();
  fold.set(`${root}vm:1`, { state: { name: 'a', snapshots: [{ name: 's' }] }, revision: '3' });
  fold.set(`${root}vm:2`, { state: { name: 'b' }, revision: '1' });
  fold.set(`${root}vm:3`, { state: { name: 'c' }, revision: '1' });
  fold.set(`${root}host:9`, { id: '9' }); // another read model's key: never compared
  fold.index(`${root}vms`, 1, '1');
  fold.index(`${root}vms`, 2, '2');
  fold.index(`${root}vms`, 3, '3');
  fold.index(`${root}ops:vm:1`, 5, 'op-a');
  return { fold, live: new Map(live) };
}

/** What the whole-snapshot comparison says about the same two sides. */
function expected(fold: MemoryFold, live: RawSnapshot): ReturnType<typeof diffAgainstReplay> {
  const replayed = fold.snapshot((k) => (k.startsWith(root) ? k.slice(root.length) : k), owns);
  const stored: ReadModelSnapshot = new Map([...live].map(([k, v]) => [k, toStoredValue(v)]));
  let missing = 0;
  for (const k of replayed.keys()) if (!live.has(k)) missing++;
  return { differences: diffSnapshots('vms', stored, replayed), recordsCompared: live.size + missing };
}

describe('diffAgainstReplay (the fold compared in place)', () => {
  it('a consistent read model: no difference, every key counted once', () => {
    const { fold, live } = sides([
      ['vm:1', record({ state: { name: 'a', snapshots: [{ name: 's' }] }, revision: '3' })],
      ['vm:2', record({ state: { name: 'b' }, revision: '1' })],
      ['vm:3', record({ state: { name: 'c' }, revision: '1' })],
      ['vms', index(['3', 3], ['1', 1], ['2', 2])],
      ['ops:vm:1', index(['op-a', 5])],
    ]);
    const got = diffAgainstReplay('vms', live, fold.view(root, owns));
    assert.deepEqual(got, { differences: [], recordsCompared: 5 });
    assert.deepEqual(got, expected(fold, live));
  });

  it('reports every kind of difference exactly as the whole-snapshot diff does', () => {
    const { fold, live } = sides([
      ['vm:1', record({ state: { name: 'x', snapshots: [{ name: 's' }, { name: 'extra' }] }, revision: '3' })],
      // vm:2 missing in live
      ['vm:3', { type: 'string', value: 'not json' }],
      ['vm:4', record({ state: { name: 'ghost' } })], // missing in the replay
      ['vm:5', { type: 'other', redisType: 'hash' }],
      ['vms', index(['1', 1], ['2', 7], ['9', 9])], // a score changed, a member extra, one missing
      ['ops:vm:1', record({ id: 'op-a' })], // a record where the replay has an index
    ]);
    const got = diffAgainstReplay('vms', live, fold.view(root, owns));
    assert.deepEqual(got, expected(fold, live));
    assert.deepEqual(
      got.differences.map((d) => [d.key, d.path, d.kind]),
      [
        ['ops:vm:1', '$', 'changed'],
        ['vm:1', '$.state.name', 'changed'],
        ['vm:1', '$.state.snapshots[1]', 'missing-in-replay'],
        ['vm:2', '$', 'missing-in-live'],
        ['vm:3', '$', 'changed'],
        ['vm:4', '$', 'missing-in-replay'],
        ['vm:5', '$', 'missing-in-replay'],
        ['vms', '$["2"]', 'changed'],
        ['vms', '$["9"]', 'missing-in-replay'],
        ['vms', '$["3"]', 'missing-in-live'],
      ],
    );
    assert.equal(got.recordsCompared, 7);
  });
  it('every key of the replay matches and live holds one more: that key is still reported', () => {
    // The replay's keys are walked, not the live ones: live's extra key is found by the count alone.
    const { fold, live } = sides([
      ['vm:1', record({ state: { name: 'a', snapshots: [{ name: 's' }] }, revision: '3' })],
      ['vm:2', record({ state: { name: 'b' }, revision: '1' })],
      ['vm:3', record({ state: { name: 'c' }, revision: '1' })],
      ['vm:7', record({ state: { name: 'hand-made' } })],
      ['vms', index(['1', 1], ['2', 2], ['3', 3])],
      ['ops:vm:1', index(['op-a', 5])],
    ]);
    const got = diffAgainstReplay('vms', live, fold.view(root, owns));
    assert.deepEqual(got, expected(fold, live));
    assert.deepEqual(
      got.differences.map((d) => [d.key, d.path, d.kind]),
      [['vm:7', '$', 'missing-in-replay']],
    );
    assert.equal(got.recordsCompared, 6);
  });

  it("an index read in the fold's own order: equal all along is consistent, one pair off is reported", () => {
    const same = sides([
      ['vm:1', record({ state: { name: 'a', snapshots: [{ name: 's' }] }, revision: '3' })],
      ['vm:2', record({ state: { name: 'b' }, revision: '1' })],
      ['vm:3', record({ state: { name: 'c' }, revision: '1' })],
      ['vms', index(['1', 1], ['2', 2], ['3', 3])],
      ['ops:vm:1', index(['op-a', 5])],
    ]);
    assert.deepEqual(diffAgainstReplay('vms', same.live, same.fold.view(root, owns)).differences, []);
    // In step for the first members, then a member the replay lacks in place of one it has; then a score off at the end.
    for (const vms of [index(['1', 1], ['2', 2], ['4', 3]), index(['1', 1], ['2', 2], ['3', 4])]) {
      const { fold, live } = sides([
        ['vm:1', record({ state: { name: 'a', snapshots: [{ name: 's' }] }, revision: '3' })],
        ['vm:2', record({ state: { name: 'b' }, revision: '1' })],
        ['vm:3', record({ state: { name: 'c' }, revision: '1' })],
        ['vms', vms],
        ['ops:vm:1', index(['op-a', 5])],
      ]);
      const got = diffAgainstReplay('vms', live, fold.view(root, owns));
      assert.deepEqual(got, expected(fold, live));
      assert.ok(got.differences.length > 0 && got.differences.every((d) => d.key === 'vms'));
    }
  });

  it("an index whose live order is not the fold's (a member indexed again with a later score) is still consistent", () => {
    const { fold, live } = sides([
      ['vm:1', record({ state: { name: 'a', snapshots: [{ name: 's' }] }, revision: '3' })],
      ['vm:2', record({ state: { name: 'b' }, revision: '1' })],
      ['vm:3', record({ state: { name: 'c' }, revision: '1' })],
      ['vms', index(['2', 2], ['3', 3], ['1', 9])],
      ['ops:vm:1', index(['op-a', 5])],
    ]);
    fold.index(`${root}vms`, 9, '1'); // the fold keeps '1' first, Redis lists it last
    assert.deepEqual(diffAgainstReplay('vms', live, fold.view(root, owns)), { differences: [], recordsCompared: 5 });
  });
});
