import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';
import { SharedTail } from '../../src/eventstore/shared-tail.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import { WakeSignal } from '../../src/eventstore/wake-signal.js';
import { tempDir, uniqueName } from '../support/env.js';
import { newEvent, waitFor } from './contract/support.js';

const ids = (events: RecordedEvent[]): string[] => events.map((e) => e.id);

describe('SharedTail over a real SQLite log', () => {
  let dir: { dir: string; cleanup: () => void };
  let store: SqliteEventStore;
  let reads = 0;
  const readLog = (after: bigint | undefined, limit: number): Promise<RecordedEvent[]> => {
    reads++;
    return store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: limit });
  };

  before(async () => {
    dir = tempDir('vl-shared-tail-');
    store = new SqliteEventStore({ file: join(dir.dir, 'events.sqlite3') });
    await store.init();
  });
  after(async () => {
    await store.close();
    dir.cleanup();
  });

  async function append(n: number): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    for (let i = 0; i < n; i++) out.push(...(await store.append(uniqueName('tail'), [newEvent()], 'no_stream')).events);
    return out;
  }

  test('every cursor and page size gets exactly what its own read would return, as the window grows past its size', async () => {
    const wake = new WakeSignal();
    // A window of 6 events: the appends below overrun it many times.
    const tail = new SharedTail(readLog, wake, 6);
    const first = await append(3);
    const log: RecordedEvent[] = [...first];
    for (let round = 0; round < 12; round++) {
      log.push(...(await append(1 + (round % 4))));
      wake.notify();
      const cursors = [log[0]!.position, ...log.slice(-9).map((e) => e.position)];
      for (const cursor of cursors) {
        for (const limit of [1, 3, 100]) {
          const got = await tail.readPage(cursor, limit, wake.current);
          const own = await store.readAll({ after: cursor, maxCount: limit });
          assert.deepEqual(ids(got), ids(own), `round ${round}, after ${cursor}, limit ${limit}`);
        }
      }
    }
    assert.ok(tail.stats.shared > 0 && tail.stats.own > 0, 'both the window and own reads were used');
  });

  test('subscribers at the end woken by one commit share one read; a newer commit needs a newer read', async () => {
    const wake = new WakeSignal();
    const tail = new SharedTail(readLog, wake);
    const [head] = await append(1);
    await tail.readPage(head!.position, 100, wake.current);
    const added = await append(2);
    wake.notify();
    const seen = wake.current;
    reads = 0;
    const pages = await Promise.all(
      Array.from({ length: 6 }, (_, i) => tail.readPage(i < 3 ? head!.position : added[0]!.position, 100, seen)),
    );
    assert.equal(reads, 1, 'one read of the log for six subscribers');
    for (const [i, page] of pages.entries()) assert.deepEqual(ids(page), ids(i < 3 ? added : added.slice(1)));
    // Appended but not yet announced: a subscriber that has seen nothing newer is answered from the window...
    const late = await append(1);
    assert.deepEqual(ids(await tail.readPage(added[1]!.position, 100, seen)), []);
    assert.equal(reads, 1);
    // ...and one that has (a notify, or a poll that moved the version) reads again.
    wake.advance(seen);
    assert.deepEqual(ids(await tail.readPage(added[1]!.position, 100, wake.current)), ids(late));
    assert.equal(reads, 2);
  });

  test('the shared events are frozen: no subscriber can change what the others get', async () => {
    const wake = new WakeSignal();
    const tail = new SharedTail(readLog, wake);
    const [head] = await append(1);
    await store.append(uniqueName('frozen'), [newEvent('Frozen', { list: [1, 2], nested: { a: 1 } })], 'no_stream');
    wake.notify();
    const [e] = await tail.readPage(head!.position, 100, wake.current);
    assert.ok(e);
    assert.throws(() => {
      (e.data as { nested: { a: number } }).nested.a = 2;
    }, TypeError);
    assert.throws(() => (e.data.list as number[]).push(3), TypeError);
    assert.throws(() => {
      (e as { type: string }).type = 'Changed';
    }, TypeError);
    const [again] = await tail.readPage(head!.position, 100, wake.current);
    assert.deepEqual(again?.data, { list: [1, 2], nested: { a: 1 } });
  });

  test('a failed read fails every subscriber that waited for it, and the next one reads again', async () => {
    const wake = new WakeSignal();
    let fail = true;
    const tail = new SharedTail(
      (afterPos, limit) => (fail ? Promise.reject(new Error('disk gone')) : readLog(afterPos, limit)),
      wake,
    );
    const [head] = await append(1);
    wake.notify();
    const both = await Promise.allSettled([
      tail.readPage(head!.position, 100, wake.current),
      tail.readPage(head!.position, 100, wake.current),
    ]);
    assert.deepEqual(
      both.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    fail = false;
    const added = await append(1);
    assert.deepEqual(ids(await tail.readPage(head!.position, 100, wake.current)), ids(added));
  });
});

/**
 * SQLite: on PostgreSQL an append may stay invisible after its commit while another
 * transaction on the server is open (the gap-safe horizon) and only a poll then finds it,
 * which a count of reads cannot tell from a wake-up's. The fan-out contract proves the
 * deliveries on both stores.
 */
test('eight live subscriptions of a SQLite store, one append: one read for all, each event delivered to each once', async () => {
  const d = tempDir('vl-fan-reads-');
  // Polls far apart: every read counted below is one the commit caused.
  const store = new SqliteEventStore({ file: join(d.dir, 'events.sqlite3'), pollIntervalMs: 600_000 });
  await store.init();
  try {
    const first = await store.append(uniqueName('fan'), [newEvent()], 'no_stream');
    const delivered = Array.from({ length: 8 }, () => [] as RecordedEvent[]);
    const subs = delivered.map((got) =>
      store.subscribeToAll({ after: first.position, onEvent: async (e) => void got.push(e) }),
    );
    try {
      // Each subscription has read (its catch-up from the checkpoint, then the warm-up) and waits at the end.
      const warm = await store.append(uniqueName('fan'), [newEvent()], 'no_stream');
      await waitFor(() => delivered.every((got) => got.length === 1), 'every subscription live');
      let reads = 0;
      const readAll = store.readAll.bind(store);
      store.readAll = (options) => {
        reads++;
        return readAll(options);
      };
      const r = await store.append(uniqueName('fan'), [newEvent(), newEvent()], 'no_stream');
      await waitFor(() => delivered.every((got) => got.length === 3), 'the append delivered to every subscription');
      assert.equal(reads, 1, 'one read of the log for 8 subscriptions');
      for (const got of delivered)
        assert.deepEqual(
          got.map((e) => e.id),
          [...warm.events, ...r.events].map((e) => e.id),
        );
    } finally {
      await Promise.all(subs.map((s) => s.stop()));
    }
  } finally {
    await store.close();
    d.cleanup();
  }
});
