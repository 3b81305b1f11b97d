/**
 * Issue #14, DESIGN invariant 6: a cold load (restart, evicted state, another process)
 * of a long stream reads from its snapshot, not from the first event; a snapshot that
 * does not match the store (other event at its revision, other code) is not used.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { fold } from '../domain/decider.js';
import { hostDecider } from '../domain/host/host.decider.js';
import type { HostEvent } from '../domain/host/host.events.js';
import { hostStream } from '../domain/streams.js';
import type { NewEvent } from '../eventstore/event-store.port.js';
import { RecordingStore, tempSqliteStore } from '../../test/support/recording-store.js';
import type { SnapshotOptions } from './aggregate-snapshots.js';
import { AggregateLoader } from './load-aggregate.js';
import { allocatedVmIds } from '../domain/host/allocations.js';

const registered: HostEvent = {
  type: 'HostRegistered',
  data: { hostId: 'h1', name: 'h1', driver: 'simulated', uri: 'sim://', capacity: { vcpus: 64, memoryMiB: 65536 } },
};
const reserved = (vmId: string): HostEvent => ({
  type: 'HostCapacityReserved',
  data: { vmId, operationId: `op-${vmId}`, vcpus: 1, memoryMiB: 8 },
});
const releasedEv = (vmId: string): HostEvent => ({
  type: 'HostCapacityReleased',
  data: { vmId, operationId: `del-${vmId}` },
});
const stored = (e: HostEvent): NewEvent => ({
  id: randomUUID(),
  type: e.type,
  data: { ...e.data },
  metadata: { principal: 'spec', correlationId: 'c', causationId: 'c', at: new Date().toISOString(), schema: 1 },
});

/** 1 registration + 2 × 150 reserve/release = 301 events (revisions 0..300). */
const history: HostEvent[] = [registered];
for (let i = 0; i < 150; i++) history.push(reserved(`vm-${i}`), releasedEv(`vm-${i}`));
history.push(reserved('stays'));

const macKey = Buffer.alloc(32, 7);

function memorySnapshots(codeVersion = 'code-1', key = macKey) {
  const data = new Map<string, string>();
  const options: SnapshotOptions = {
    store: { get: async (k) => data.get(k), set: async (k, v) => void data.set(k, v) },
    deciders: new Map([[hostDecider, 'host']]),
    codeVersion,
    every: 100,
    macKey: key,
  };
  return { data, options };
}

/** The snapshot writes are fire-and-forget: wait for the one expected. */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

describe('aggregate snapshots for cold loads', () => {
  let store: RecordingStore;
  let cleanup: () => Promise<void>;
  const stream = hostStream('h1');
  const expected = fold(hostDecider, history);

  before(async () => {
    const tmp = await tempSqliteStore();
    store = new RecordingStore(tmp.store);
    cleanup = tmp.cleanup;
    for (let i = 0; i < history.length; i += 50)
      await store.append(stream, history.slice(i, i + 50).map(stored), i === 0 ? 'no_stream' : BigInt(i - 1));
  });
  after(() => cleanup());

  test('a full fold writes a snapshot; a cold loader then reads only from it, to the same state', async () => {
    const snaps = memorySnapshots();
    const first = await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    assert.equal(first.revision, 301n);
    assert.deepEqual(first.state, expected);
    await until(() => snaps.data.has(`host:${stream}`));
    const snap = JSON.parse(snaps.data.get(`host:${stream}`)!) as { revision: string };
    assert.equal(snap.revision, '301');

    await store.append(stream, [reserved('late')].map(stored), 301n);
    const readsBefore = store.readsOf(stream).length;
    const cold = await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    const reads = store.readsOf(stream).slice(readsBefore);
    assert.deepEqual(
      reads.map((r) => ({ from: r.options.fromRevision, returned: r.returned })),
      [{ from: 301n, returned: 2 }],
      'one read from the snapshot revision: its own event (checked) and the one after',
    );
    assert.equal(cold.revision, 302n);
    assert.deepEqual(cold.state, fold(hostDecider, [...history, reserved('late')]));
    assert.deepEqual(allocatedVmIds(cold.state.allocations), ['late', 'stays'], 'no trace of the 150 deleted VMs');
  });

  test('a snapshot written by other code, or whose event the store does not hold, is ignored: full fold', async () => {
    const snaps = memorySnapshots();
    await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    await until(() => snaps.data.has(`host:${stream}`));
    const genuine = snaps.data.get(`host:${stream}`)!;
    const head = fold(hostDecider, [...history, reserved('late')]);

    const otherCode = memorySnapshots('code-2');
    otherCode.data.set(`host:${stream}`, genuine);
    let before = store.readsOf(stream).length;
    const a = await new AggregateLoader(store, { snapshots: otherCode.options }).load(hostDecider, stream);
    assert.deepEqual(a.state, head);
    assert.equal(store.readsOf(stream).slice(before)[0]!.options.fromRevision, undefined, 'read from the start');

    // A snapshot whose state is wrong and whose hash names no event of this stream (a foreign or forged one).
    const forged = JSON.parse(genuine) as { hash: string; state: { allocations: Record<string, unknown> } };
    forged.hash = 'f'.repeat(64);
    forged.state.allocations = { ghost: { vcpus: 64, memoryMiB: 65536 } };
    snaps.data.set(`host:${stream}`, JSON.stringify(forged));
    before = store.readsOf(stream).length;
    const b = await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    assert.deepEqual(b.state, head, 'the forged state is not used');
    assert.ok(
      store
        .readsOf(stream)
        .slice(before)
        .some((r) => r.options.fromRevision === undefined),
    );

    snaps.data.set(`host:${stream}`, 'not json');
    const c = await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    assert.deepEqual(c.state, head);
  });

  test('a forged state on a genuine anchor (true revision and hash), or a snapshot without a valid MAC, is ignored', async () => {
    const snaps = memorySnapshots();
    await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    await until(() => snaps.data.has(`host:${stream}`));
    const genuine = snaps.data.get(`host:${stream}`)!;
    const head = (await new AggregateLoader(store).load(hostDecider, stream)).state;
    const fromStart = async (label: string, options = snaps.options) => {
      const before = store.readsOf(stream).length;
      const loaded = await new AggregateLoader(store, { snapshots: options }).load(hostDecider, stream);
      assert.deepEqual(loaded.state, head, `${label}: the state is the log's`);
      const reads = store.readsOf(stream).slice(before);
      assert.equal(reads[0]!.options.fromRevision, undefined, `${label}: read from the start`);
    };

    // The genuine snapshot is used (the control for the cases below).
    let before = store.readsOf(stream).length;
    await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    assert.notEqual(store.readsOf(stream)[before]!.options.fromRevision, undefined, 'the genuine snapshot is used');

    // Someone with write access to Redis edits the state and keeps revision, hash and MAC.
    const edited = JSON.parse(genuine) as { state: { capacity: { vcpus: number } }; mac: string };
    edited.state.capacity.vcpus = 4096;
    snaps.data.set(`host:${stream}`, JSON.stringify(edited));
    await fromStart('state edited');

    // ... or drops the MAC, or writes one of their own without the key.
    const { mac: _dropped, ...unsigned } = edited;
    snaps.data.set(`host:${stream}`, JSON.stringify(unsigned));
    await fromStart('no MAC');
    snaps.data.set(`host:${stream}`, JSON.stringify({ ...unsigned, mac: 'ab'.repeat(32) }));
    await fromStart('a MAC of their own');

    // The genuine bytes under a process holding another key: not trusted either.
    snaps.data.set(`host:${stream}`, genuine);
    const otherKey = memorySnapshots('code-1', Buffer.alloc(32, 9));
    otherKey.data.set(`host:${stream}`, genuine);
    await fromStart('other key', otherKey.options);

    before = store.readsOf(stream).length;
    await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    assert.notEqual(store.readsOf(stream)[before]!.options.fromRevision, undefined, 'the genuine bytes still verify');
  });

  test('appends crossing a multiple of `every` write a snapshot at the new revision (advance)', async () => {
    const snaps = memorySnapshots();
    const loader = new AggregateLoader(store, { snapshots: snaps.options });
    const loaded = await loader.load(hostDecider, stream);
    snaps.data.clear();
    let at = loaded;
    for (let i = 0; i < 100; i++) {
      const result = await store.append(stream, [reserved(`more-${i}`)].map(stored), at.revision!);
      at = loader.advance(hostDecider, stream, at, result.events);
    }
    await until(() => snaps.data.has(`host:${stream}`));
    assert.equal((JSON.parse(snaps.data.get(`host:${stream}`)!) as { revision: string }).revision, '400');
    const cold = await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    assert.deepEqual(cold, at);
  });

  test('the state before a revision (a saga after a restart) starts from an older snapshot, not from the first event', async () => {
    const snaps = memorySnapshots();
    await new AggregateLoader(store, { snapshots: snaps.options }).load(hostDecider, stream);
    await until(() => snaps.data.has(`host:${stream}`));
    const snapAt = BigInt((JSON.parse(snaps.data.get(`host:${stream}`)!) as { revision: string }).revision);
    await store.append(
      stream,
      ['x', 'y', 'z'].map((id) => stored(reserved(id))),
      snapAt,
    );
    const all = await store.readStream(stream);
    const target = snapAt + 3n;
    const before = store.readsOf(stream).length;
    const cold = await new AggregateLoader(store, { snapshots: snaps.options }).loadBefore(hostDecider, stream, target);
    assert.deepEqual(
      store
        .readsOf(stream)
        .slice(before)
        .map((r) => r.options.fromRevision),
      [snapAt],
      'one read, from the snapshot',
    );
    assert.equal(cold.revision, target - 1n);
    const upTo = all.filter((e) => e.revision < target).map((e) => ({ type: e.type, data: e.data }) as HostEvent);
    assert.deepEqual(cold.state, fold(hostDecider, upTo));
    // Before the snapshot: it cannot be used, the stream is folded from its start.
    const early = await new AggregateLoader(store, { snapshots: snaps.options }).loadBefore(hostDecider, stream, 5n);
    assert.deepEqual(early.state, fold(hostDecider, history.slice(0, 5)));
  });

  test('a stream found empty asks the snapshot store nothing on its next loads, and is read in full once written', async () => {
    const snaps = memorySnapshots();
    const asked: string[] = [];
    const get = snaps.options.store.get;
    const counted: SnapshotOptions = {
      ...snaps.options,
      store: { ...snaps.options.store, get: (k) => (asked.push(k), get(k)) },
    };
    const loader = new AggregateLoader(store, { snapshots: counted });
    const empty = hostStream(randomUUID());
    for (let i = 0; i < 3; i++) assert.equal((await loader.load(hostDecider, empty)).revision, undefined);
    assert.deepEqual(asked, [`host:${empty}`], 'asked once, on the first load');
    // Written by another process meanwhile: the next load reads it from its first event.
    await store.append(empty, [registered, reserved('a')].map(stored), 'no_stream');
    const loaded = await loader.load(hostDecider, empty);
    assert.equal(loaded.revision, 1n);
    assert.deepEqual(loaded.state, fold(hostDecider, [registered, reserved('a')]));
  });
});
