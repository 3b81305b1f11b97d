import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventStore, RecordedEvent, Subscription } from '../../../src/eventstore/event-store.port.js';
import { uniqueName } from '../../support/env.js';
import {
  type ContractTarget,
  deliveredThroughMarker,
  laterAppendsDelivered,
  newEvent,
  visibleThrough,
  waitFor,
} from './support.js';

interface Subscriber {
  name: string;
  after: bigint | undefined;
  delivered: RecordedEvent[];
  errors: Error[];
  sub: Subscription;
}

function subscribe(
  store: EventStore,
  name: string,
  after: bigint | undefined,
  options: { batchSize?: number; holdUntil?: Promise<void>; throwAt?: number } = {},
): Subscriber {
  const delivered: RecordedEvent[] = [];
  const errors: Error[] = [];
  const sub = store.subscribeToAll({
    ...(after !== undefined ? { after } : {}),
    ...(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}),
    onEvent: async (e) => {
      if (options.throwAt !== undefined && delivered.length + 1 === options.throwAt) throw new Error(`${name} failed`);
      delivered.push(e);
      // A slow consumer: held at its third event until the appends are done, it falls behind the others.
      if (options.holdUntil && delivered.length === 3) await options.holdUntil;
    },
    onError: (err) => errors.push(err),
  });
  return { name, after, delivered, errors, sub };
}

function assertOnceInOrder(s: Subscriber, prefix: string, expected: RecordedEvent[]): void {
  for (let i = 1; i < s.delivered.length; i++)
    assert.ok(s.delivered[i - 1]!.position < s.delivered[i]!.position, `${s.name}: out of order or repeated`);
  assert.ok(
    s.delivered.every((e) => s.after === undefined || e.position > s.after),
    `${s.name}: an event at or before its checkpoint`,
  );
  assert.deepEqual(
    s.delivered.filter((e) => e.streamId.startsWith(prefix)).map((e) => e.id),
    expected.filter((e) => s.after === undefined || e.position > s.after).map((e) => e.id),
    `${s.name}: not every event after its checkpoint, once`,
  );
}

/**
 * Several subscriptions of one store at once (a process has a saga runner, five live
 * projections, SSE clients…): adapters may read the log's end once for all of them, and
 * each must still get exactly what it would have got alone.
 */
export function fanOutContract(target: ContractTarget): void {
  const title = `EventStore fan-out contract: ${target.name}`;
  if (target.skip) {
    test(title, { skip: target.skip }, () => undefined);
    return;
  }
  describe(title, () => {
    let store: EventStore | undefined;
    const run = uniqueName('fan');
    before(async () => {
      store = await target.open();
    });
    after(async () => {
      await store?.close();
      await target.destroy?.();
    });
    fanOutCases(
      () => {
        if (!store) throw new Error('store not open');
        return store;
      },
      (name) => `${run}-${name}`,
    );
  });
}

function fanOutCases(getStore: () => EventStore, stream: (name: string) => string): void {
  test('fan-out: subscriptions at different checkpoints (the start, far behind, the head, a slow one) each get every later event once, in order, while appends run', async () => {
    const store = getStore();
    const prefix = stream('fan-');
    let releaseSlow!: () => void;
    const appendsDone = new Promise<void>((resolve) => (releaseSlow = resolve));
    const before: RecordedEvent[] = [];
    for (let i = 0; i < 25; i++)
      before.push(...(await store.append(`${prefix}pre-${i % 4}`, [newEvent()], 'any')).events);
    const subs = [
      subscribe(store, 'from the start', undefined),
      subscribe(store, 'far behind', before[2]!.position, { batchSize: 4 }),
      subscribe(store, 'midway', before[12]!.position),
      subscribe(store, 'at the head', before[24]!.position),
      subscribe(store, 'slow, small pages', before[20]!.position, { batchSize: 2, holdUntil: appendsDone }),
    ];
    try {
      let lastWritten = 0n;
      const writers = Array.from({ length: 3 }, async (_, w) => {
        for (let i = 0; i < 12; i++) {
          const batch = i % 4 === 0 ? [newEvent('W'), newEvent('W')] : [newEvent('W')];
          const r = await store.append(`${prefix}w${w}`, batch, 'any');
          if (r.position > lastWritten) lastWritten = r.position;
          // A second subscriber joins while appends run: it starts behind and must catch up into the shared end.
          if (w === 0 && i === 5) subs.push(subscribe(store, 'joined late', before[0]!.position));
        }
      });
      await Promise.all(writers);
      releaseSlow();
      // PostgreSQL shows the log up to the server's oldest open transaction (another test's, maybe).
      await visibleThrough(store, lastWritten);
      const expected = [...before, ...(await store.readAll({ after: before[24]!.position, streamPrefixes: [prefix] }))];
      assert.equal(expected.length, 25 + 3 * 15);
      for (const s of subs)
        await deliveredThroughMarker(store, stream(`marker-fan-${subs.indexOf(s)}`), () => s.delivered);
      for (const s of subs) {
        assert.deepEqual(s.errors, [], s.name);
        assertOnceInOrder(s, prefix, expected);
      }
    } finally {
      releaseSlow();
      await Promise.all(subs.map((s) => s.sub.stop()));
    }
  });

  test('fan-out: a subscription whose handler throws and one stopped midway end alone; the others deliver on', async () => {
    const store = getStore();
    const prefix = stream('fan-end-');
    const head = await store.headPosition();
    const throwing = subscribe(store, 'throws at its 4th event', head, { throwAt: 4 });
    const stopped = subscribe(store, 'stopped after 6 events', head);
    const others = [subscribe(store, 'first', head), subscribe(store, 'second', head, { batchSize: 3 })];
    const appended: RecordedEvent[] = [];
    try {
      for (let i = 0; i < 6; i++) appended.push(...(await store.append(`${prefix}a`, [newEvent()], 'any')).events);
      await waitFor(() => stopped.delivered.length >= 6, 'the subscription to stop to deliver 6 events');
      await stopped.sub.stop();
      const stoppedAt = stopped.delivered.length;
      for (let i = 0; i < 6; i++) appended.push(...(await store.append(`${prefix}b`, [newEvent()], 'any')).events);
      for (const s of others)
        await waitFor(() => s.delivered.filter((e) => e.streamId.startsWith(prefix)).length === 12, s.name);
      await laterAppendsDelivered(store, stream('control-fan-end'));

      assert.equal(throwing.errors.length, 1);
      assert.equal(throwing.errors[0]?.message, 'throws at its 4th event failed');
      assert.deepEqual(
        throwing.delivered.map((e) => e.id),
        appended.slice(0, 3).map((e) => e.id),
      );
      assert.equal(throwing.sub.lastPosition, appended[2]!.position);
      assert.equal(stopped.delivered.length, stoppedAt, 'an event was delivered after stop()');
      assert.deepEqual(stopped.errors, []);
      for (const s of others) {
        assert.deepEqual(s.errors, [], s.name);
        assertOnceInOrder(s, prefix, appended);
      }
    } finally {
      await Promise.all([throwing, stopped, ...others].map((s) => s.sub.stop()));
    }
  });

  test('fan-out: filtered global reads answer the same while subscriptions share the log', async () => {
    const store = getStore();
    const prefix = stream('fan-filter-');
    const head = await store.headPosition();
    const live = [subscribe(store, 'one', head), subscribe(store, 'two', head)];
    try {
      for (let i = 0; i < 8; i++) {
        await store.append(
          `${prefix}${i % 2 === 0 ? 'even' : 'odd'}`,
          [newEvent(i % 3 === 0 ? 'Third' : 'Other')],
          'any',
        );
      }
      for (const s of live) await deliveredThroughMarker(store, stream('marker-fan-filter'), () => s.delivered);
      const all = (await store.readAll({ after: head })).filter((e) => e.streamId.startsWith(prefix));
      const even = await store.readAll({ after: head, streamPrefixes: [`${prefix}even`] });
      const thirds = await store.readAll({ after: head, streamPrefixes: [prefix], types: ['Third'] });
      assert.deepEqual(
        even.map((e) => e.id),
        all.filter((e) => e.streamId === `${prefix}even`).map((e) => e.id),
      );
      assert.deepEqual(
        thirds.map((e) => e.id),
        all.filter((e) => e.type === 'Third').map((e) => e.id),
      );
      for (const s of live)
        assert.deepEqual(
          s.delivered.filter((e) => e.streamId.startsWith(prefix)).map((e) => e.id),
          all.map((e) => e.id),
        );
    } finally {
      await Promise.all(live.map((s) => s.sub.stop()));
    }
  });
}
