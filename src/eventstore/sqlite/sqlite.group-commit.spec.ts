import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AppendResult } from '../event-store.port.js';
import { GroupCommit, type PendingAppend, type Settled } from './sqlite.group-commit.js';

const result = (): AppendResult => ({ nextExpectedRevision: 0n, position: 1n, events: [] });

class Refused extends Error {}

/** A GroupCommit over a fake transaction that records the groups it was handed. */
function harness(commit: (items: PendingAppend[]) => Settled[] | Promise<Settled[]>) {
  const groups: string[][] = [];
  let committed = 0;
  const gc = new GroupCommit(
    async (items) => {
      groups.push(items.map((it) => it.args[0]));
      return commit(items);
    },
    (err) => (err instanceof Refused ? new Error(`mapped: ${err.message}`) : err),
    () => committed++,
  );
  return { gc, groups, committed: () => committed };
}

describe('GroupCommit', () => {
  test('appends made within one tick share one transaction; a later tick gets its own', async () => {
    const h = harness((items) => items.map(() => ({ ok: true, value: result() })));
    await Promise.all(['a', 'b', 'c'].map((s) => h.gc.append([s, [], 'any'])));
    await h.gc.append(['d', [], 'any']);
    assert.deepEqual(h.groups, [['a', 'b', 'c'], ['d']]);
    assert.equal(h.committed(), 2, 'subscribers woken once per transaction');
  });

  test('one append refused inside the group fails alone; the others succeed', async () => {
    const h = harness((items) =>
      items.map((it): Settled =>
        it.args[0] === 'bad' ? { ok: false, error: new Refused('bad revision') } : { ok: true, value: result() },
      ),
    );
    const outcomes = await Promise.allSettled(['a', 'bad', 'c'].map((s) => h.gc.append([s, [], 'any'])));
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.equal((outcomes[1] as PromiseRejectedResult).reason.message, 'mapped: bad revision');
    assert.equal(h.groups.length, 1);
  });

  test('a transaction that fails as a whole (lock, disk) fails every append of the group, and nothing is announced', async () => {
    const h = harness(() => {
      throw new Error('disk full');
    });
    const outcomes = await Promise.allSettled(['a', 'b'].map((s) => h.gc.append([s, [], 'any'])));
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok')),
      ['disk full', 'disk full'],
    );
    assert.equal(h.committed(), 0);
  });

  test('a burst larger than one group is split into several transactions, in arrival order', async () => {
    const h = harness((items) => items.map(() => ({ ok: true, value: result() })));
    await Promise.all(Array.from({ length: 300 }, (_, i) => h.gc.append([`s${i}`, [], 'any'])));
    assert.deepEqual(
      h.groups.map((g) => g.length),
      [256, 44],
    );
    assert.deepEqual(
      h.groups.flat(),
      Array.from({ length: 300 }, (_, i) => `s${i}`),
    );
  });
});
