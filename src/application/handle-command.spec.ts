import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, beforeEach, describe, test } from 'node:test';
import { DomainError } from '../domain/domain-error.js';
import { hostDecider } from '../domain/host/host.decider.js';
import type { HostCommand } from '../domain/host/host.commands.js';
import { hostStream } from '../domain/streams.js';
import { registerHost, reserveCapacity } from '../../test/support/host-event-fixtures.js';
import { RecordingStore, tempSqliteStore } from '../../test/support/recording-store.js';
import { handleCommand, PreconditionFailedError, type CommandMeta } from './handle-command.js';
import { AggregateLoader } from './load-aggregate.js';
import { allocatedVmIds, allocationEntries } from '../domain/host/allocations.js';

const META: CommandMeta = { principal: 'alice', correlationId: 'op-1', causationId: 'http:op-1' };

describe('handleCommand', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let store: RecordingStore;
  let loader: AggregateLoader;
  let stream: string;

  beforeEach(async () => {
    const tmp = await tempSqliteStore();
    cleanups.push(tmp.cleanup);
    store = new RecordingStore(tmp.store);
    loader = new AggregateLoader(store);
    stream = hostStream(randomUUID());
    await handleCommand(loader, hostDecider, stream, registerHost('h', 1024), META);
  });
  after(async () => {
    for (const c of cleanups) await c();
  });

  test('the events carry the metadata: principal, correlation, causation, reason, time, schema, command', async () => {
    const at = new Date('2031-02-03T04:05:06.000Z');
    const result = await handleCommand(
      loader,
      hostDecider,
      stream,
      reserveCapacity('a', 512),
      { ...META, reason: 'ticket 42' },
      { now: () => at },
    );
    assert.equal(result.events.length, 1);
    const { prevHash: _p, hash: _h, ...metadata } = result.events[0]!.metadata;
    assert.deepEqual(metadata, {
      principal: 'alice',
      correlationId: 'op-1',
      causationId: 'http:op-1',
      at: at.toISOString(),
      schema: 1,
      reason: 'ticket 42',
      command: { type: 'ReserveCapacity', args: { vmId: 'a', operationId: 'op-a', vcpus: 1, memoryMiB: 512 } },
    });
    assert.equal(result.revision, 1n);
    assert.deepEqual(allocationEntries(result.state.allocations), [['a', { vcpus: 1, memoryMiB: 512 }]]);
    assert.deepEqual((await store.readStream(stream)).at(-1)!.metadata, result.events[0]!.metadata);
  });

  test('a decision with no events appends nothing and answers the current state', async () => {
    const appends = store.appends.length;
    const result = await handleCommand(
      loader,
      hostDecider,
      stream,
      { type: 'ReleaseCapacity', vmId: 'x', operationId: 'o' },
      META,
    );
    assert.deepEqual(result.events, []);
    assert.equal(result.revision, 0n);
    assert.equal(store.appends.length, appends, 'no append at all');
  });

  /** Runs once, between our read and our append: another writer reserving on the same host. */
  const thief = (vmId: string, memoryMiB: number) => () =>
    handleCommand(new AggregateLoader(store.inner), hostDecider, stream, reserveCapacity(vmId, memoryMiB), META).then(
      () => undefined,
    );

  test('a concurrent change is decided again against the new state and accepted when it still fits', async () => {
    const appends = store.appends.length;
    store.beforeNextAppend = thief('thief', 256);
    const result = await handleCommand(loader, hostDecider, stream, reserveCapacity('mine', 512), META);
    assert.equal(store.appends.length - appends, 2, 'one refused append, one retry');
    assert.equal(result.revision, 2n);
    assert.deepEqual(allocatedVmIds(result.state.allocations), ['mine', 'thief']);
  });

  test('a conflict re-reads only the tail the other writer appended, never the whole stream', async () => {
    await handleCommand(loader, hostDecider, stream, reserveCapacity('warm', 1), META);
    const readsBefore = store.readsOf(stream).length;
    store.beforeNextAppend = thief('thief', 1);
    const result = await handleCommand(loader, hostDecider, stream, reserveCapacity('mine', 1), META);
    const reads = store.readsOf(stream).slice(readsBefore);
    assert.deepEqual(
      reads.map((r) => ({ from: r.options.fromRevision, returned: r.returned })),
      [{ from: 2n, returned: 1 }],
      "decided on the cached state without a read; after the conflict, only the thief's event is read",
    );
    assert.equal(result.revision, 3n);
    assert.deepEqual(allocatedVmIds(result.state.allocations), ['mine', 'thief', 'warm']);
  });

  test('a command on a cached stream reads nothing: the append checks the cached revision', async () => {
    const readsBefore = store.readsOf(stream).length;
    for (const vm of ['a', 'b', 'c']) await handleCommand(loader, hostDecider, stream, reserveCapacity(vm, 1), META);
    assert.equal(store.readsOf(stream).length, readsBefore, 'no stream read');
    const { state, revision } = await new AggregateLoader(store.inner).load(hostDecider, stream);
    assert.equal(revision, 3n);
    assert.deepEqual(allocatedVmIds(state.allocations), ['a', 'b', 'c']);
  });

  test('a create on a new stream reads nothing; on a stream this loader never saw, the store decides', async () => {
    const fresh = hostStream(randomUUID());
    const readsBefore = store.readsOf(fresh).length;
    const created = await handleCommand(loader, hostDecider, fresh, registerHost('n', 1024), META);
    assert.equal(created.revision, 0n);
    assert.equal(store.readsOf(fresh).length, readsBefore, 'no stream read for a new stream');

    // A loader with nothing cached (another process, a restart): the host exists, so the
    // initial state is wrong twice over: registering again is refused, reserving is accepted.
    const cold = () => new AggregateLoader(store);
    await assert.rejects(
      handleCommand(cold(), hostDecider, fresh, registerHost('n', 1024), META),
      (err: unknown) => err instanceof DomainError && err.code === 'conflict',
    );
    const reserved = await handleCommand(cold(), hostDecider, fresh, reserveCapacity('a', 512), META);
    assert.equal(reserved.revision, 1n);
    assert.deepEqual(allocatedVmIds(reserved.state.allocations), ['a']);
    const { state } = await new AggregateLoader(store.inner).load(hostDecider, fresh);
    assert.deepEqual(allocatedVmIds(state.allocations), ['a'], 'registered once, reserved once');
  });

  /** Another process (a loader of its own) writes the stream behind this loader's cache. */
  const elsewhere = (cmd: HostCommand) =>
    handleCommand(new AggregateLoader(store.inner), hostDecider, stream, cmd, META);

  test('"already done" on a stale cache is checked against the store: the other process\'s reservation is released', async () => {
    await elsewhere(reserveCapacity('theirs', 256));
    const result = await handleCommand(
      loader,
      hostDecider,
      stream,
      { type: 'ReleaseCapacity', vmId: 'theirs', operationId: 'op-theirs' },
      META,
    );
    assert.deepEqual(
      result.events.map((e) => e.type),
      ['HostCapacityReleased'],
      'the cache knew no reservation; the store did',
    );
    const { state } = await new AggregateLoader(store.inner).load(hostDecider, stream);
    assert.deepEqual(allocatedVmIds(state.allocations), []);
  });

  test('a refusal on a stale cache is checked against the store: room freed by another process is used', async () => {
    await handleCommand(loader, hostDecider, stream, reserveCapacity('big', 1024), META);
    await elsewhere({ type: 'ReleaseCapacity', vmId: 'big', operationId: 'op-big' });
    const result = await handleCommand(loader, hostDecider, stream, reserveCapacity('next', 1024), META);
    assert.equal(result.revision, 3n);
    assert.deepEqual(allocatedVmIds(result.state.allocations), ['next']);
  });

  test('a refusal that holds on the store is given, with a state as current as the store', async () => {
    await elsewhere(reserveCapacity('theirs', 1024));
    await assert.rejects(
      handleCommand(loader, hostDecider, stream, reserveCapacity('mine', 1), META),
      (err: unknown) => err instanceof DomainError && err.code === 'capacity',
    );
  });

  test('If-Match on the revision another process made is accepted, though the cache was behind', async () => {
    await elsewhere(reserveCapacity('theirs', 1));
    const result = await handleCommand(loader, hostDecider, stream, reserveCapacity('mine', 1), META, { ifMatch: 1n });
    assert.equal(result.revision, 2n);
  });

  test('where several processes write (decideOnCache off), the tail is read first: no refused append', async () => {
    const shared = new AggregateLoader(store, { decideOnCache: false });
    await handleCommand(shared, hostDecider, stream, reserveCapacity('warm', 1), META);
    await elsewhere(reserveCapacity('theirs', 1));
    const appends = store.appends.length;
    const readsBefore = store.readsOf(stream).length;
    const result = await handleCommand(shared, hostDecider, stream, reserveCapacity('mine', 1), META);
    assert.equal(store.appends.length - appends, 1, 'one append, accepted the first time');
    assert.deepEqual(
      store
        .readsOf(stream)
        .slice(readsBefore)
        .map((r) => ({ from: r.options.fromRevision, returned: r.returned })),
      [{ from: 2n, returned: 1 }],
      "only the other process's event is read",
    );
    assert.deepEqual(allocatedVmIds(result.state.allocations), ['mine', 'theirs', 'warm']);
  });

  test('a concurrent change is decided again against the new state: the room is gone, so it is refused', async () => {
    store.beforeNextAppend = thief('thief', 512);
    await assert.rejects(
      handleCommand(loader, hostDecider, stream, reserveCapacity('mine', 768), META),
      (err: unknown) => err instanceof DomainError && err.code === 'capacity',
    );
    const { state } = await new AggregateLoader(store.inner).load(hostDecider, stream);
    assert.deepEqual(allocatedVmIds(state.allocations), ['thief']);
  });

  test('If-Match on another revision is a PreconditionFailedError and appends nothing', async () => {
    const appends = store.appends.length;
    await assert.rejects(
      handleCommand(loader, hostDecider, stream, reserveCapacity('a', 1), META, { ifMatch: 5n }),
      (err: unknown) => err instanceof PreconditionFailedError && err.expected === 5n && err.actual === 0n,
    );
    assert.equal(store.appends.length, appends);
    assert.equal((await store.inner.readStream(stream)).length, 1);
  });

  test('If-Match is not retried: a concurrent change fails it instead of deciding again', async () => {
    store.beforeNextAppend = thief('thief', 1);
    await assert.rejects(
      handleCommand(loader, hostDecider, stream, reserveCapacity('mine', 1), META, { ifMatch: 0n }),
      PreconditionFailedError,
    );
    const { state } = await new AggregateLoader(store.inner).load(hostDecider, stream);
    assert.deepEqual(allocatedVmIds(state.allocations), ['thief']);
  });
});
