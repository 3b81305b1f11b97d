import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WrongExpectedVersionError } from '../../../src/eventstore/errors.js';
import type { EventStore, NewEvent, RecordedEvent } from '../../../src/eventstore/event-store.port.js';
import { verifyChain } from '../../../src/eventstore/hash-chain.js';
import { uniqueName } from '../../support/env.js';
import { type ContractTarget, newEvent, visibleThrough, waitFor } from './support.js';

const ids = (events: readonly { id: string }[]): string[] => events.map((e) => e.id);

/**
 * `appendMany` (several streams' appends as one commit), for every store that has it: all
 * stored or none, each stream checked against its own expected state, positions in the order
 * given, each stream's chain its own, an identical replay idempotent. A store without it is
 * registered as skipped (its callers append one stream at a time: handle-command-pair.ts).
 */
export function multiAppendContract(target: ContractTarget): void {
  const title = `EventStore appendMany contract: ${target.name}`;
  if (target.skip) {
    test(title, { skip: target.skip }, () => undefined);
    return;
  }

  describe(title, () => {
    let store: EventStore;
    let run: string;
    const stream = (name: string): string => `${run}-${name}`;
    const appendMany = (...parts: Parameters<NonNullable<EventStore['appendMany']>>[0]) => store.appendMany!(parts);
    const read = (s: string): Promise<RecordedEvent[]> => store.readStream(s, { ifMissing: 'empty' });

    before(async () => {
      run = uniqueName('many');
      store = await target.open();
    });

    after(async () => {
      await store?.close();
      await target.destroy?.();
    });

    test('the store has appendMany, or is skipped', (t) => {
      if (!store.appendMany) t.skip(`${target.name} has no appendMany: callers append one stream at a time`);
    });

    test('two streams in one call: both stored, results in the order given, positions in that order, each chain its own', async (t) => {
      if (!store.appendMany) return t.skip('no appendMany');
      const host = stream('host');
      const vm = stream('vm');
      await store.append(host, [newEvent('Registered')], 'no_stream');
      const reserve = newEvent('Reserved');
      const placed = [newEvent('Placed'), newEvent('Noted')];
      const [h, v] = await appendMany(
        { streamId: host, events: [reserve], expected: 0n },
        { streamId: vm, events: placed, expected: 'no_stream' },
      );
      assert.deepEqual(ids(h!.events), [reserve.id]);
      assert.equal(h!.nextExpectedRevision, 1n);
      assert.deepEqual(ids(v!.events), ids(placed));
      assert.equal(v!.nextExpectedRevision, 1n);
      assert.ok(h!.position < v!.events[0]!.position, 'the first stream’s event comes first in the log');
      assert.ok(v!.events[0]!.position < v!.events[1]!.position);
      const hostEvents = await read(host);
      const vmEvents = await read(vm);
      assert.deepEqual(ids(hostEvents).slice(1), [reserve.id]);
      assert.deepEqual(ids(vmEvents), ids(placed));
      assert.equal(verifyChain(hostEvents), null, 'the host stream’s chain runs on from its own last event');
      assert.equal(verifyChain(vmEvents), null);
      // The global log has them in that order.
      await visibleThrough(store, v!.position);
      const log = (await store.readAll({ after: h!.position - 1n, maxCount: 3 })).filter((e) =>
        e.streamId.startsWith(run),
      );
      assert.deepEqual(ids(log), [reserve.id, ...ids(placed)]);
    });

    for (const which of ['first', 'second'] as const) {
      test(`a stale expected revision on the ${which} stream refuses the whole set, naming that stream: neither stream gets an event`, async (t) => {
        if (!store.appendMany) return t.skip('no appendMany');
        const a = stream(`stale-${which}-a`);
        const b = stream(`stale-${which}-b`);
        await store.append(a, [newEvent()], 'no_stream');
        await store.append(b, [newEvent(), newEvent()], 'no_stream');
        const stale = which === 'first' ? a : b;
        const refused = appendMany(
          { streamId: a, events: [newEvent('Lost')], expected: which === 'first' ? 5n : 0n },
          { streamId: b, events: [newEvent('Lost')], expected: which === 'second' ? 0n : 1n },
        );
        await assert.rejects(refused, (err: unknown) => {
          assert.ok(err instanceof WrongExpectedVersionError, String(err));
          assert.equal(err.streamId, stale);
          return true;
        });
        assert.equal((await read(a)).length, 1, 'the first stream’s rows were undone with the set');
        assert.equal((await read(b)).length, 2);
        assert.ok(![...(await read(a)), ...(await read(b))].some((e) => e.type === 'Lost'));
      });
    }

    test('a set refused among appends committed at the same moment fails alone: the others are stored', async (t) => {
      if (!store.appendMany) return t.skip('no appendMany');
      const busy = stream('busy');
      await store.append(busy, [newEvent()], 'no_stream');
      const before = newEvent('Before');
      const afterIt = newEvent('After');
      const lost: NewEvent[] = [newEvent('Lost'), newEvent('Lost')];
      const outcomes = await Promise.allSettled([
        store.append(stream('alone-1'), [before], 'no_stream'),
        appendMany(
          { streamId: stream('set-a'), events: [lost[0]!], expected: 'no_stream' },
          { streamId: busy, events: [lost[1]!], expected: 'no_stream' },
        ),
        store.append(stream('alone-2'), [afterIt], 'no_stream'),
      ]);
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      assert.deepEqual(ids(await read(stream('alone-1'))), [before.id]);
      assert.deepEqual(ids(await read(stream('alone-2'))), [afterIt.id]);
      assert.equal((await read(stream('set-a'))).length, 0);
    });

    test('the same set appended again (same event ids, same expected states) is an idempotent replay', async (t) => {
      if (!store.appendMany) return t.skip('no appendMany');
      const a = stream('replay-a');
      const b = stream('replay-b');
      const parts = [
        { streamId: a, events: [newEvent()], expected: 'no_stream' as const },
        { streamId: b, events: [newEvent(), newEvent()], expected: 'no_stream' as const },
      ];
      const first = await store.appendMany!(parts);
      const again = await store.appendMany!(parts);
      assert.deepEqual(
        again.map((r) => ids(r.events)),
        first.map((r) => ids(r.events)),
      );
      assert.deepEqual(
        again.map((r) => r.position),
        first.map((r) => r.position),
      );
      assert.equal((await read(a)).length, 1);
      assert.equal((await read(b)).length, 2);
    });

    test('refused before anything is stored: no stream, a stream named twice, an event id in two parts', async (t) => {
      if (!store.appendMany) return t.skip('no appendMany');
      const s = stream('shape');
      await assert.rejects(store.appendMany!([]), RangeError);
      await assert.rejects(
        appendMany(
          { streamId: s, events: [newEvent()], expected: 'any' },
          { streamId: s, events: [newEvent()], expected: 'any' },
        ),
        TypeError,
      );
      const shared = newEvent();
      await assert.rejects(
        appendMany(
          { streamId: s, events: [shared], expected: 'any' },
          { streamId: stream('shape-2'), events: [shared], expected: 'any' },
        ),
        TypeError,
      );
      assert.equal((await read(s)).length, 0);
    });

    test('sets over the same streams in opposite orders, many at once: every one stored, none stuck on the other', async (t) => {
      if (!store.appendMany) return t.skip('no appendMany');
      const a = stream('order-a');
      const b = stream('order-b');
      const calls = Array.from({ length: 20 }, (_, i) =>
        appendMany(
          { streamId: i % 2 ? a : b, events: [newEvent()], expected: 'any' },
          { streamId: i % 2 ? b : a, events: [newEvent()], expected: 'any' },
        ),
      );
      const outcomes = await Promise.allSettled(calls);
      assert.deepEqual(
        outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason)),
        [],
      );
      assert.equal((await read(a)).length, 20);
      assert.equal((await read(b)).length, 20);
      assert.equal(verifyChain(await read(a)), null);
      assert.equal(verifyChain(await read(b)), null);
    });

    test('a subscription is handed both streams’ events, in log order, once', async (t) => {
      if (!store.appendMany) return t.skip('no appendMany');
      const got: RecordedEvent[] = [];
      const sub = store.subscribeToAll({ after: await store.headPosition(), onEvent: async (e) => void got.push(e) });
      try {
        const [x, y] = [newEvent('X'), newEvent('Y')];
        await appendMany(
          { streamId: stream('live-a'), events: [x], expected: 'no_stream' },
          { streamId: stream('live-b'), events: [y], expected: 'no_stream' },
        );
        await waitFor(() => got.some((e) => e.id === y.id), 'the set to be delivered');
        assert.deepEqual(ids(got.filter((e) => e.streamId.startsWith(`${run}-live`))), [x.id, y.id]);
      } finally {
        await sub.stop();
      }
    });
  });
}
