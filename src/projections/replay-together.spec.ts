import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../eventstore/event-store.port.js';
import type { Projection } from './projection.js';
import { ReadModelKeys } from './read-model.keys.js';
import { replayTogether, ShadowReplay } from './shadow-replay.js';
import { recordedEvent } from '../../test/support/recorded-event.js';

const keys = new ReadModelKeys('t');

const event = (position: number): RecordedEvent =>
  recordedEvent({
    id: `e${position}`,
    streamId: 'vm-1',
    type: 'VmStarted',
    revision: BigInt(position - 1),
    position: BigInt(position),
  });

/** A log of `n` events whose reads and folds are noted, in the order they happen, in `trace`. */
function setup(n: number, replayPageSize?: number): { store: EventStore; replay: ShadowReplay; trace: string[] } {
  const trace: string[] = [];
  const log = Array.from({ length: n }, (_, i) => event(i + 1));
  const store = {
    ...(replayPageSize !== undefined ? { replayPageSize } : {}),
    readAll: async ({ after, maxCount }: ReadAllOptions = {}) => {
      trace.push(`read after ${after ?? '-'}`);
      if (replayPageSize !== undefined) trace.push(`max ${maxCount}`);
      return log.filter((e) => after === undefined || e.position > after).slice(0, maxCount);
    },
  } as EventStore;
  const projection: Projection = {
    name: 'probe',
    owns: () => true,
    apply: async (e, tx) => {
      trace.push(`fold ${e.id}`);
      tx.set(`t:probe:${e.id}`, e.position.toString());
    },
  };
  // The in-memory fold writes nothing to Redis: it is never reached.
  const replay = new ShadowReplay(store, {} as Redis, projection, keys, { persist: false });
  return { store, replay, trace };
}

describe('replayTogether (one read of the log for every replay)', () => {
  it('asks for the next page before folding this one, and reads no page past a short one', async () => {
    const { store, replay, trace } = setup(7);
    assert.equal(await replayTogether(store, [replay], 3), 7);
    assert.deepEqual(trace, [
      'read after -',
      'read after 3',
      'fold e1',
      'fold e2',
      'fold e3',
      'read after 6',
      'fold e4',
      'fold e5',
      'fold e6',
      'fold e7',
    ]);
    assert.equal(replay.position, 7n);
    assert.equal(replay.events, 7);
  });

  it("reads pages of the store's replayPageSize when not told otherwise (SQLite's small pages)", async () => {
    const { store, replay, trace } = setup(5, 2);
    assert.equal(await replay.replay(), 5);
    assert.deepEqual(
      trace.filter((t) => t.startsWith('read') || t.startsWith('max')),
      ['read after -', 'max 2', 'read after 2', 'max 2', 'read after 4', 'max 2'],
    );
    trace.length = 0;
    assert.equal(await replayTogether(store, [setup(5, 2).replay]), 5);
    assert.deepEqual(
      trace.filter((t) => t.startsWith('max')),
      ['max 2', 'max 2', 'max 2'],
    );
    const told = setup(3, 2);
    assert.equal(await replayTogether(told.store, [told.replay], 5), 3);
    assert.deepEqual(
      told.trace.filter((t) => t.startsWith('max')),
      ['max 5'],
    );
  });

  it('gives the event loop a turn every 500 folded events, across pages shorter than that', async () => {
    // The store answers at once (a microtask): only the fold's own turns let I/O (a rebuild's SCAN) run.
    const { replay, trace } = setup(1200, 100);
    let foldedAtTurn: number | undefined;
    setImmediate(() => (foldedAtTurn = trace.filter((t) => t.startsWith('fold')).length));
    assert.equal(await replay.replay(), 1200);
    assert.equal(foldedAtTurn, 499, 'the first turn comes before the 500th event, not after the last');
  });

  it('stops at `until`, in the middle of a page or at its end, and goes on from there later', async () => {
    const { store, replay, trace } = setup(9);
    assert.equal(await replayTogether(store, [replay], 3, 5n), 5);
    assert.equal(replay.position, 5n);
    assert.deepEqual(
      trace.filter((t) => t.startsWith('fold')),
      ['fold e1', 'fold e2', 'fold e3', 'fold e4', 'fold e5'],
    );
    trace.length = 0;
    assert.equal(await replayTogether(store, [replay], 3, 8n), 3);
    assert.deepEqual(
      trace.filter((t) => t.startsWith('fold')),
      ['fold e6', 'fold e7', 'fold e8'],
    );
    assert.equal(await replayTogether(store, [replay], 3), 1);
    assert.equal(replay.position, 9n);
    assert.equal(replay.events, 9);
  });

  it('a fold that fails fails the replay, and the page read ahead meanwhile is dropped quietly', async () => {
    const { replay } = setup(0);
    const failing = {
      readAll: async ({ after }: ReadAllOptions = {}) => {
        if (after !== undefined) throw new Error('store gone');
        return [event(1), event(2)];
      },
    } as EventStore;
    const broken = new ShadowReplay(
      failing,
      {} as Redis,
      { name: 'b', owns: () => true, apply: () => Promise.reject(new Error('fold bug')) },
      keys,
      { persist: false },
    );
    await assert.rejects(replayTogether(failing, [broken], 2), /fold bug/);
    assert.equal(replay.position, undefined);
  });
});
