import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WrongExpectedVersionError } from '../../src/eventstore/errors.js';
import { verifyChain } from '../../src/eventstore/hash-chain.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import { tempDir } from '../support/env.js';
import { newEvent } from './contract/support.js';

describe('sqlite group commit: appends of one tick share a transaction, each checked on its own', () => {
  let dir: { dir: string; cleanup: () => void };
  let store: SqliteEventStore;

  before(async () => {
    dir = tempDir('vl-group-commit-');
    store = new SqliteEventStore({ file: join(dir.dir, 'events.sqlite3') });
    await store.init();
  });
  after(async () => {
    await store.close();
    dir.cleanup();
  });

  test('one stale expected revision in a burst fails only that append; the others are stored and chained', async () => {
    await store.append('gc-stale', [newEvent('S0'), newEvent('S1')], 'no_stream');
    const streams = Array.from({ length: 8 }, (_, i) => `gc-ok-${i}`);
    // All issued in the same tick: they land in one group with the stale one in the middle.
    const outcomes = await Promise.allSettled([
      ...streams.slice(0, 4).map((s) => store.append(s, [newEvent('A'), newEvent('B')], 'no_stream')),
      store.append('gc-stale', [newEvent('Late')], 0n),
      ...streams.slice(4).map((s) => store.append(s, [newEvent('A'), newEvent('B')], 'no_stream')),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      [...Array(4).fill('fulfilled'), 'rejected', ...Array(4).fill('fulfilled')],
    );
    assert.ok((outcomes[4] as PromiseRejectedResult).reason instanceof WrongExpectedVersionError);
    const stale = await store.readStream('gc-stale');
    assert.deepEqual(
      stale.map((e) => e.type),
      ['S0', 'S1'],
      'nothing of the refused append',
    );
    for (const s of streams) {
      const events = await store.readStream(s);
      assert.deepEqual(
        events.map((e) => e.type),
        ['A', 'B'],
      );
      assert.equal(verifyChain(events), null);
    }
  });

  test('appends to one stream within a tick are checked in arrival order: each sees the one before', async () => {
    const s = 'gc-same';
    const outcomes = await Promise.allSettled([
      store.append(s, [newEvent('First')], 'no_stream'),
      store.append(s, [newEvent('Second')], 0n),
      store.append(s, [newEvent('AlsoSecond')], 0n),
      store.append(s, [newEvent('Third')], 'any'),
    ]);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    const events = await store.readStream(s);
    assert.deepEqual(
      events.map((e) => [e.type, e.revision]),
      [
        ['First', 0n],
        ['Second', 1n],
        ['Third', 2n],
      ],
    );
    assert.equal(verifyChain(events), null);
  });

  test('what a group committed is durable: another connection reads it, positions in arrival order', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.append(`gc-durable-${i}`, [newEvent('D')], 'no_stream')),
    );
    const positions = results.map((r) => r.position);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => (a < b ? -1 : 1)),
    );
    const second = new SqliteEventStore({ file: store.file });
    await second.init();
    try {
      for (let i = 0; i < 20; i++) assert.equal((await second.readStream(`gc-durable-${i}`)).length, 1);
    } finally {
      await second.close();
    }
  });
});
