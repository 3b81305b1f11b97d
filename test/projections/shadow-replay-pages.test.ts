/**
 * How a shadow replay walks the log (real SQLite store, real Redis): every event is
 * folded once and in order whatever the page size and wherever `until` falls; no page
 * is read after a short one; and the keys a rebuild swaps are those the fold holds
 * after its last write, not after an earlier one (listed again only when a key came or went).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../../src/eventstore/event-store.port.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import type { Projection, ProjectionTx } from '../../src/projections/projection.js';
import { ReadModelKeys } from '../../src/projections/read-model.keys.js';
import { replayTogether, ShadowReplay } from '../../src/projections/shadow-replay.js';
import { tempDir } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';

const EVENTS = 60;

/** A read model of one record per stream (its last position), recording what it was handed. */
class LastPositionProjection implements Projection {
  readonly name = 'pages';
  readonly applied: bigint[] = [];

  constructor(private readonly keys: ReadModelKeys) {}

  owns(relativeKey: string): boolean {
    return relativeKey.startsWith('last:');
  }

  async apply(e: RecordedEvent, tx: ProjectionTx): Promise<void> {
    this.applied.push(e.position);
    tx.set(`${this.keys.root}last:${e.streamId}`, { position: e.position.toString() });
  }
}

/** The store, with each readAll's `after` recorded. */
class ReadLog implements Pick<EventStore, 'readAll'> {
  readonly afters: Array<bigint | undefined> = [];

  constructor(private readonly inner: EventStore) {}

  readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.afters.push(options.after);
    return this.inner.readAll(options);
  }
}

describe('shadow replay pages', () => {
  const dir = tempDir('vl-replay-pages-');
  const own = redisForTest('vlpages');
  const { redis, prefix } = own;
  let store: SqliteEventStore;
  let positions: bigint[] = [];
  let n = 0;

  const replayOf = (log: ReadLog, batchSize: number, persist = false) => {
    const keys = new ReadModelKeys(prefix, `shadow:${n++}:rm`);
    const projection = new LastPositionProjection(keys);
    const replay = new ShadowReplay(log as unknown as EventStore, redis, projection, keys, { batchSize, persist });
    return { replay, projection, keys };
  };

  before(async () => {
    store = new SqliteEventStore({ file: join(dir.dir, 'events.sqlite3') });
    await store.init();
    for (let i = 0; i < EVENTS; i++) {
      const res = await store.append(
        `pages-${i % 7}`,
        [
          {
            id: randomUUID(),
            type: 'Ticked',
            data: { i },
            metadata: {
              principal: 'user:test',
              correlationId: 'c',
              causationId: 'c',
              at: new Date().toISOString(),
              schema: 1,
            },
          },
        ],
        'any',
      );
      positions.push(res.position);
    }
    positions = positions.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  });
  after(async () => {
    await own.cleanup();
    await store.close();
    dir.cleanup();
  });

  test('every event once, in order, for any page size and any until; no read after a short page', async () => {
    for (const batchSize of [1, 7, 10, 59, 60, 61, 5000]) {
      for (const untilIndex of [undefined, 0, 6, 29, 30, EVENTS - 1]) {
        const until = untilIndex === undefined ? undefined : positions[untilIndex]!;
        const log = new ReadLog(store);
        const { replay, projection } = replayOf(log, batchSize);
        const expected = untilIndex === undefined ? positions : positions.slice(0, untilIndex + 1);
        const what = `batch ${batchSize}, until #${untilIndex}`;
        assert.equal(await replay.replay(until), expected.length, what);
        assert.deepEqual(projection.applied, expected, what);
        assert.equal(replay.position, expected.at(-1), what);
        // A page is read after the last one's end: no page twice, none skipped.
        const pages = Math.ceil(expected.length / batchSize);
        assert.deepEqual(
          log.afters.slice(0, pages),
          [undefined, ...expected.filter((_, i) => (i + 1) % batchSize === 0)].slice(0, pages),
          what,
        );
        // One more read only when the last page was full (it finds nothing, or only events past `until`).
        const fullLast = expected.length % batchSize === 0;
        assert.equal(log.afters.length, pages + (fullLast ? 1 : 0), what);
      }
    }
  });

  test('replayTogether hands one read of each page to every replay', async () => {
    const log = new ReadLog(store);
    const a = replayOf(log, 25);
    const b = replayOf(log, 25);
    assert.equal(await replayTogether(log as unknown as EventStore, [a.replay, b.replay], 25), EVENTS);
    assert.deepEqual(a.projection.applied, positions);
    assert.deepEqual(b.projection.applied, positions);
    assert.equal(log.afters.length, 3, 'pages of 25, 25 and 10');
  });

  test('the keys to swap are those of the last write: a replay after a write adds its keys', async () => {
    const log = new ReadLog(store);
    const { replay, keys } = replayOf(log, 10, true);
    await replay.replay(positions[6]!);
    const streams = (count: number) => [...Array(count).keys()].map((i) => `${keys.root}last:pages-${i}`).sort();
    assert.deepEqual([...replay.writtenKeys()!].sort(), streams(7));
    assert.deepEqual(replay.leftoverKeys(), [keys.checkpoint('pages')]);
    await replay.replay(positions[2]!);
    assert.deepEqual([...replay.writtenKeys()!].sort(), streams(7), 'nothing new: the same keys');
    // Events that only rewrite the records it holds: the list (and a swap's plan made from it) still holds.
    const listed = replay.writtenKeys();
    await replay.replay(positions[20]!);
    assert.equal(replay.writtenKeys(), listed, 'the same list, not listed again');

    // A fresh replay that stops after 3 streams, then goes on to the head: the later write's keys are listed too.
    const { replay: later, keys: laterKeys } = replayOf(new ReadLog(store), 10, true);
    await later.replay(positions[2]!);
    assert.equal(later.writtenKeys()!.length, 3);
    await later.replay();
    assert.deepEqual(
      [...later.writtenKeys()!].sort(),
      [...Array(7).keys()].map((i) => `${laterKeys.root}last:pages-${i}`).sort(),
    );
    assert.deepEqual(
      (await redis.keys(`${laterKeys.root}last:*`)).sort(),
      [...later.writtenKeys()!].sort(),
      'what Redis holds',
    );
  });
});
