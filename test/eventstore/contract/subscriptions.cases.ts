import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordedEvent, Subscription } from '../../../src/eventstore/event-store.port.js';
import {
  assertStrictlyIncreasing,
  type ContractScope,
  delay,
  deliveredThroughMarker,
  laterAppendsDelivered,
  newEvent,
  startPollingReader,
  waitFor,
} from './support.js';

/** subscribeToAll: from a checkpoint or the head, one event at a time, stop(), errors, other instances' appends. */
export function subscriptionCases(scope: ContractScope): void {
  const { target, stream } = scope;

  test('subscription from a checkpoint misses nothing and repeats nothing while appends run concurrently', async () => {
    const { store } = scope;
    const prefix = stream('sub-');
    const pre: RecordedEvent[] = [];
    for (let i = 0; i < 5; i++)
      pre.push(...(await store.append(`${prefix}pre-${i}`, [newEvent()], 'no_stream')).events);
    const checkpoint = stream('sub-checkpoint');
    await store.writeCheckpoint(checkpoint, pre[2]?.position ?? 0n);
    const from = await store.readCheckpoint(checkpoint);

    const delivered: RecordedEvent[] = [];
    const errors: Error[] = [];
    const sub = store.subscribeToAll({
      after: from,
      batchSize: 7,
      onEvent: async (e) => {
        delivered.push(e);
        if (delivered.length % 5 === 0) await delay(1);
      },
      onError: (err) => errors.push(err),
    });
    const reader = startPollingReader(store, from, prefix);

    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; i < 10; i++) {
        const batch =
          i % 3 === 0 ? [newEvent('W', { w, i }), newEvent('W', { w, i, second: true })] : [newEvent('W', { w, i })];
        await store.append(`${prefix}w${w}`, batch, i === 0 ? 'no_stream' : 'any');
      }
    });
    await Promise.all(writers);
    const expectedCount = 2 + 4 * 14;
    const mine = (): RecordedEvent[] => delivered.filter((e) => e.streamId.startsWith(prefix));
    await waitFor(() => mine().length >= expectedCount, 'the subscription to deliver every appended event');
    // A duplicate would come before the marker.
    await deliveredThroughMarker(store, stream('checkpoint-marker'), () => delivered);
    await sub.stop();
    const seenByReader = await reader.stop();

    const expected = await store.readAll({ after: from, streamPrefixes: [prefix] });
    assert.equal(expected.length, expectedCount);
    assert.deepEqual(errors, []);
    assertStrictlyIncreasing(delivered, 'subscription');
    assert.equal(new Set(delivered.map((e) => e.id)).size, delivered.length, 'no event delivered twice');
    assert.deepEqual(
      mine().map((e) => e.id),
      expected.map((e) => e.id),
    );
    assert.deepEqual(
      seenByReader.map((e) => e.id),
      expected.map((e) => e.id),
    );
    assert.ok(delivered.every((e) => e.position > (from ?? -1n)));
    assert.equal(sub.lastPosition, delivered[delivered.length - 1]?.position);
  });

  test('subscription: one event at a time, and stop() resolves after the handler in flight', async () => {
    const { store } = scope;
    const s = stream('slow');
    const head = await store.headPosition();
    await store.append(s, [newEvent(), newEvent(), newEvent()], 'no_stream');
    let inFlight = 0;
    let maxInFlight = 0;
    let finished = 0;
    let started: () => void = () => undefined;
    const firstStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const sub = store.subscribeToAll({
      after: head,
      onEvent: async (e) => {
        if (e.streamId !== s) return;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        started();
        await delay(150);
        inFlight--;
        finished++;
      },
    });
    await firstStarted;
    await sub.stop();
    assert.equal(inFlight, 0, 'stop() resolved while a handler was still running');
    assert.equal(finished, 1);
    assert.equal(maxInFlight, 1);
    await store.append(s, [newEvent()], 'any');
    await laterAppendsDelivered(store, stream('slow-control'));
    assert.equal(finished, 1, 'an event was delivered after stop()');
  });

  test('subscription: a throwing onEvent stops delivery and reports onError', async () => {
    const { store } = scope;
    const s = stream('boom');
    const head = await store.headPosition();
    const { events } = await store.append(s, [newEvent(), newEvent(), newEvent()], 'no_stream');
    let calls = 0;
    const errors: Error[] = [];
    const sub: Subscription = store.subscribeToAll({
      after: head,
      onEvent: async (e) => {
        if (e.streamId !== s) return;
        calls++;
        if (calls === 2) throw new Error('boom');
      },
      onError: (err) => errors.push(err),
    });
    await waitFor(() => errors.length > 0, 'onError');
    await laterAppendsDelivered(store, stream('boom-control'));
    assert.equal(calls, 2);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.message, 'boom');
    const last = sub.lastPosition;
    assert.ok(last !== undefined && last >= (events[0]?.position ?? 0n) && last < (events[1]?.position ?? 0n));
    await sub.stop();
  });

  test('subscription: stop() awaited inside onEvent does not deadlock', async () => {
    const { store } = scope;
    const s = stream('self-stop');
    const head = await store.headPosition();
    await store.append(s, [newEvent(), newEvent()], 'no_stream');
    let calls = 0;
    let stoppedInside = false;
    const sub: Subscription = store.subscribeToAll({
      after: head,
      onEvent: async (e) => {
        if (e.streamId !== s) return;
        calls++;
        await sub.stop();
        stoppedInside = true;
      },
    });
    await waitFor(() => stoppedInside, 'stop() inside the handler to resolve', 5_000);
    await sub.stop();
    await laterAppendsDelivered(store, stream('self-stop-control'));
    assert.equal(calls, 1);
  });

  test('subscription from headPosition delivers only what comes after', async () => {
    const { store } = scope;
    const s = stream('live');
    await store.append(s, [newEvent('Old')], 'no_stream');
    const head = await store.headPosition();
    const delivered: RecordedEvent[] = [];
    const sub = store.subscribeToAll({ after: head, onEvent: async (e) => void delivered.push(e) });
    // Live before the append, so it arrives as a live event, not in the catch-up.
    await deliveredThroughMarker(store, stream('live-marker'), () => delivered);
    const r = await store.append(s, [newEvent('New')], 0n);
    await waitFor(() => delivered.some((e) => e.streamId === s), 'the live event');
    await sub.stop();
    assert.deepEqual(
      delivered.filter((e) => e.streamId === s).map((e) => e.type),
      ['New'],
    );
    assert.ok(delivered.every((e) => e.position > (head ?? -1n)));
    assert.ok(delivered.some((e) => e.position === r.position));
  });

  test('a subscription sees appends made through another store instance (another process)', async () => {
    const { store } = scope;
    const other = await target.openSecond();
    try {
      const s = stream('cross');
      const head = await store.headPosition();
      const delivered: RecordedEvent[] = [];
      const sub = store.subscribeToAll({ after: head, onEvent: async (e) => void delivered.push(e) });
      await deliveredThroughMarker(store, stream('cross-marker'), () => delivered);
      await other.append(s, [newEvent('FromElsewhere')], 'no_stream');
      await waitFor(
        () => delivered.some((e) => e.streamId === s),
        'the event appended through the other instance',
        10_000,
      );
      await sub.stop();
    } finally {
      await other.close();
    }
  });
}
