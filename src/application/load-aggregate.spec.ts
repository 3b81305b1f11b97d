import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fold } from '../domain/decider.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { hostStream } from '../domain/streams.js';
import { RecordingStore, tempSqliteStore } from '../../test/support/recording-store.js';
import { registered, reserved, stored } from '../../test/support/host-event-fixtures.js';
import { AggregateLoader } from './load-aggregate.js';
import { allocatedVmIds } from '../domain/host/allocations.js';
import { handleCommand } from './handle-command.js';
import { registerHost, reserveCapacity } from '../../test/support/host-event-fixtures.js';

describe('AggregateLoader', () => {
  let store: RecordingStore;
  let cleanup: () => Promise<void>;
  const stream = hostStream('h1');

  before(async () => {
    const tmp = await tempSqliteStore();
    store = new RecordingStore(tmp.store);
    cleanup = tmp.cleanup;
    await store.append(stream, [registered, reserved('a'), reserved('b')].map(stored), 'no_stream');
  });
  after(() => cleanup());

  test('a stream that does not exist is the initial state with no revision', async () => {
    const loaded = await new AggregateLoader(store).load(hostDecider, hostStream('nobody'));
    assert.deepEqual(loaded, { state: hostDecider.initialState(), revision: undefined });
  });

  test('a cached state is extended with only the events after its revision, written by anyone', async () => {
    const loader = new AggregateLoader(store);
    const first = await loader.load(hostDecider, stream);
    assert.equal(first.revision, 2n);
    assert.deepEqual(allocatedVmIds(first.state.allocations), ['a', 'b']);

    // Another writer (another process, say) appends behind the loader's back.
    await store.append(stream, [reserved('c'), reserved('d')].map(stored), 2n);
    const readsBefore = store.readsOf(stream).length;
    const second = await loader.load(hostDecider, stream);
    const reads = store.readsOf(stream).slice(readsBefore);
    assert.deepEqual(
      reads.map((r) => ({ from: r.options.fromRevision, returned: r.returned })),
      [{ from: 3n, returned: 2 }],
      'one read, of the two new events only',
    );
    assert.equal(second.revision, 4n);
    assert.deepEqual(second.state, fold(hostDecider, [registered, ...['a', 'b', 'c', 'd'].map(reserved)]));

    // Nothing new: one read that returns nothing, same state.
    const third = await loader.load(hostDecider, stream);
    assert.equal(store.readsOf(stream).at(-1)!.returned, 0);
    assert.deepEqual(third, second);
  });

  test('until folds the stream up to a past point and leaves the cache alone', async () => {
    const loader = new AggregateLoader(store);
    const past = await loader.load(hostDecider, stream, { until: (e) => e.revision <= 1n });
    assert.equal(past.revision, 1n);
    assert.deepEqual(allocatedVmIds(past.state.allocations), ['a']);
    const readsBefore = store.readsOf(stream).length;
    const now = await loader.load(hostDecider, stream);
    assert.equal(store.readsOf(stream)[readsBefore]!.options.fromRevision, undefined, 'no cache from the past');
    assert.ok(now.revision !== undefined && now.revision > 1n);
  });

  test('beyond its limit the least recently used stream is dropped and read in full again', async () => {
    await store.append(
      hostStream('h2'),
      [stored({ ...registered, data: { ...registered.data, hostId: 'h2' } })],
      'no_stream',
    );
    const loader = new AggregateLoader(store, { limit: 1 });
    await loader.load(hostDecider, stream);
    await loader.load(hostDecider, hostStream('h2'));
    const readsBefore = store.readsOf(stream).length;
    await loader.load(hostDecider, stream);
    assert.equal(store.readsOf(stream)[readsBefore]!.options.fromRevision, undefined);
  });

  test('a guess is the cached state with no store read where the cache is decided on, else a load', async () => {
    const g = hostStream('guess');
    await store.append(g, [stored({ ...registered, data: { ...registered.data, hostId: 'guess' } })], 'no_stream');
    const cached = new AggregateLoader(store, { decideOnCache: true });
    const first = await cached.loadToGuess(hostDecider, g);
    assert.ok(first.exists, 'a stream not cached is read');
    await store.append(g, [reserved('late')].map(stored), 0n);
    const readsBefore = store.readsOf(g).length;
    assert.deepEqual(allocatedVmIds((await cached.loadToGuess(hostDecider, g)).allocations), [], 'as cached');
    assert.equal(store.readsOf(g).length, readsBefore, 'no store read');
    assert.deepEqual(allocatedVmIds((await cached.load(hostDecider, g)).state.allocations), ['late']);

    const checked = new AggregateLoader(store, { decideOnCache: false });
    await checked.load(hostDecider, g);
    await store.append(g, [reserved('later')].map(stored), 1n);
    const guess = await checked.loadToGuess(hostDecider, g);
    assert.deepEqual(allocatedVmIds(guess.allocations), ['late', 'later'], 'the tail read where others write');
  });
  test('the current state: where this process alone writes, its own appends are known without a read; else read', async () => {
    const c = hostStream('current');
    const meta = { principal: 'spec', correlationId: 'c', causationId: 'c' };
    const alone = new AggregateLoader(store, { decideOnCache: true });
    const created = await handleCommand(alone, hostDecider, c, registerHost('current'), meta);
    await handleCommand(alone, hostDecider, c, reserveCapacity('mine', 64), meta);
    const readsBefore = store.readsOf(c).length;
    const now = await alone.loadCurrent(hostDecider, c, created.revision);
    assert.deepEqual(allocatedVmIds(now.state.allocations), ['mine'], 'its own append is in it');
    assert.equal(now.revision, 1n);
    assert.equal(store.readsOf(c).length, readsBefore, 'no store read');

    // A revision the cache has not reached (written behind its back): read.
    await store.append(c, [reserved('behind')].map(stored), 1n);
    const caughtUp = await alone.loadCurrent(hostDecider, c, 2n);
    assert.deepEqual(allocatedVmIds(caughtUp.state.allocations), ['behind', 'mine']);
    assert.equal(store.readsOf(c).length, readsBefore + 1);

    // A stream found empty stays empty until this process writes it.
    const none = hostStream('current-none');
    await alone.loadCurrent(hostDecider, none);
    const emptyReads = store.readsOf(none).length;
    assert.equal((await alone.loadCurrent(hostDecider, none)).revision, undefined);
    assert.equal(store.readsOf(none).length, emptyReads, 'known empty: no read');
    await handleCommand(alone, hostDecider, none, registerHost('current-none'), meta);
    assert.ok((await alone.loadCurrent(hostDecider, none)).state.exists, 'written by this process: known');

    // Where others write too, the tail is always read.
    const shared = new AggregateLoader(store, { decideOnCache: false });
    await shared.load(hostDecider, c);
    await store.append(c, [reserved('other')].map(stored), 2n);
    const read = await shared.loadCurrent(hostDecider, c, 2n);
    assert.deepEqual(allocatedVmIds(read.state.allocations), ['behind', 'mine', 'other']);
  });
});
