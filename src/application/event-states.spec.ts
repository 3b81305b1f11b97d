import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { hostDecider } from '../domain/host/host.decider.js';
import { hostStream } from '../domain/streams.js';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { RecordingStore, tempSqliteStore } from '../../test/support/recording-store.js';
import { registered, reserved, stored } from '../../test/support/host-event-fixtures.js';
import { EventStates } from './event-states.js';
import { AggregateLoader } from './load-aggregate.js';
import { allocatedVmIds } from '../domain/host/allocations.js';
import { handleCommand } from './handle-command.js';
import { registerHost, reserveCapacity } from '../../test/support/host-event-fixtures.js';

describe('EventStates', () => {
  let store: RecordingStore;
  let cleanup: () => Promise<void>;
  const stream = hostStream('h1');
  let log: RecordedEvent[];

  before(async () => {
    const tmp = await tempSqliteStore();
    store = new RecordingStore(tmp.store);
    cleanup = tmp.cleanup;
    log = (await store.append(stream, [registered, reserved('a'), reserved('b')].map(stored), 'no_stream')).events;
  });
  after(() => cleanup());

  test('events followed in order: before and after without a read; current read once, only when asked', async () => {
    const states = new EventStates(new AggregateLoader(store), hostDecider);
    const reads = () => store.readsOf(stream).length;
    const start = reads();
    const first = await states.around(log[0]!);
    const second = await states.around(log[1]!);
    assert.equal(reads(), start, 'no stream read for events nobody asked the current state of');
    assert.deepEqual(second.before, first.after);
    assert.deepEqual(allocatedVmIds(second.after.allocations), ['a']);

    // Asked: the stream as it is now, later events included; asked again, the same answer without a read.
    const now = await second.current();
    assert.deepEqual(allocatedVmIds(now.allocations), ['a', 'b']);
    assert.equal(reads(), start + 1);
    assert.equal(await second.current(), now);
    assert.equal(reads(), start + 1);
  });
  test('current of a stream this process alone writes comes from the loader, later appends included, with no read', async () => {
    const own = hostStream('own');
    const meta = { principal: 'spec', correlationId: 'c', causationId: 'c' };
    const aggregates = new AggregateLoader(store, { decideOnCache: true });
    const first = await handleCommand(aggregates, hostDecider, own, registerHost('own'), meta);
    await handleCommand(aggregates, hostDecider, own, reserveCapacity('later', 64), meta);
    const states = new EventStates(aggregates, hostDecider);
    const readsBefore = store.readsOf(own).length;
    const around = await states.around(first.events[0]!);
    assert.deepEqual(allocatedVmIds(around.after.allocations), []);
    assert.deepEqual(allocatedVmIds((await around.current()).allocations), ['later'], 'the state now');
    assert.equal(store.readsOf(own).length, readsBefore, 'no stream read');

    // Where other processes write, the guard reads the store.
    const shared = new EventStates(new AggregateLoader(store, { decideOnCache: false }), hostDecider);
    const read = await shared.around(first.events[0]!);
    assert.deepEqual(allocatedVmIds((await read.current()).allocations), ['later']);
    assert.equal(store.readsOf(own).length, readsBefore + 1);
  });
});
