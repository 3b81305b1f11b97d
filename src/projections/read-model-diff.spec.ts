import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { diffSnapshots } from './read-model-diff.js';
import type { ReadModelSnapshot, StoredValue } from './read-model-snapshot.js';
import { openRebuild } from './rebuild.events.js';

const json = (v: unknown): StoredValue => ({ type: 'string', value: JSON.stringify(v) });
const snap = (entries: Array<[string, StoredValue]>): ReadModelSnapshot => new Map(entries);

describe('read-model diff', () => {
  it('equal snapshots: no difference', () => {
    const a = snap([
      ['vm:1', json({ state: { name: 'a', snapshots: [{ name: 's' }] } })],
      ['vms', { type: 'zset', members: { '1': 3 } }],
    ]);
    assert.deepEqual(diffSnapshots('vms', a, new Map(a)), []);
  });

  it('names each changed leaf with its path, live and replayed values', () => {
    const live = snap([
      ['vm:1', json({ state: { name: 'x', vcpus: 2, snapshots: [{ name: 's1' }, { name: 'extra' }] } })],
    ]);
    const replayed = snap([['vm:1', json({ state: { name: 'a', vcpus: 2, snapshots: [{ name: 's1' }] } })]]);
    assert.deepEqual(diffSnapshots('vms', live, replayed), [
      { readModel: 'vms', key: 'vm:1', path: '$.state.name', kind: 'changed', live: 'x', replayed: 'a' },
      {
        readModel: 'vms',
        key: 'vm:1',
        path: '$.state.snapshots[1]',
        kind: 'missing-in-replay',
        live: { name: 'extra' },
        replayed: null,
      },
    ]);
  });

  it('a record or index member on one side only', () => {
    const live = snap([['ops', { type: 'zset', members: { a: 1, b: 2 } }]]);
    const replayed = snap([
      ['ops', { type: 'zset', members: { a: 1, c: 3 } }],
      ['op:c', json({ id: 'c' })],
    ]);
    assert.deepEqual(
      diffSnapshots('vms', live, replayed).map((d) => [d.key, d.path, d.kind]),
      [
        ['op:c', '$', 'missing-in-live'],
        ['ops', '$.b', 'missing-in-replay'],
        ['ops', '$.c', 'missing-in-live'],
      ],
    );
  });

  it('an index with the same members: a moved score, one member more on a side, or a record in its place', () => {
    const live = snap([
      ['ops', { type: 'zset', members: { a: 1, b: 2 } }],
      ['ops:vm:1', { type: 'zset', members: { a: 1 } }],
      ['ops:vm:2', { type: 'zset', members: { b: 2 } }],
      ['vms', { type: 'zset', members: { '1': 1, '2': 2 } }],
    ]);
    const replayed = snap([
      ['ops', { type: 'zset', members: { a: 1, b: 5 } }],
      ['ops:vm:1', { type: 'zset', members: { a: 1, c: 3 } }],
      ['ops:vm:2', json({ b: 2 })],
      ['vms', { type: 'zset', members: { '2': 2, '1': 1 } }],
    ]);
    assert.deepEqual(
      diffSnapshots('vms', live, replayed).map((d) => [d.key, d.path, d.kind, d.live, d.replayed]),
      [
        ['ops', '$.b', 'changed', 2, 5],
        ['ops:vm:1', '$.c', 'missing-in-live', null, 3],
        ['ops:vm:2', '$', 'changed', { b: 2 }, { b: 2 }],
      ],
    );
  });

  it('a value that is not JSON any more is compared as text', () => {
    const d = diffSnapshots(
      'hosts',
      snap([['host:1', { type: 'string', value: 'garbage' }]]),
      snap([['host:1', json({ a: 1 })]]),
    );
    assert.deepEqual(d, [
      { readModel: 'hosts', key: 'host:1', path: '$', kind: 'changed', live: 'garbage', replayed: { a: 1 } },
    ]);
  });
});

describe('openRebuild', () => {
  it('finds the rebuild started and never closed, and only that one', () => {
    const started = (id: string) => ({ type: 'ProjectionRebuildStarted', data: { operationId: id } });
    const done = (id: string) => ({ type: 'ProjectionRebuildSucceeded', data: { operationId: id } });
    assert.equal(openRebuild([]), undefined);
    assert.equal(openRebuild([started('a'), done('a')]), undefined);
    assert.equal(openRebuild([started('a'), done('a'), started('b')]), 'b');
    assert.equal(
      openRebuild([started('a'), { type: 'ProjectionRebuildFailed', data: { operationId: 'a' } }]),
      undefined,
    );
  });
});
