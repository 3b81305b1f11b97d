import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, beforeEach, describe, test } from 'node:test';
import { DomainError } from '../domain/domain-error.js';
import { allocatedVmIds } from '../domain/host/allocations.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { hostStream } from '../domain/streams.js';
import { registerHost, releaseCapacity, reserveCapacity } from '../../test/support/host-event-fixtures.js';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { RecordingStore, tempSqliteStore } from '../../test/support/recording-store.js';
import { handleCommand, handleCommands, type CommandMeta } from './handle-command.js';
import { AggregateLoader } from './load-aggregate.js';

const META: CommandMeta = { principal: 'alice', correlationId: 'op-1', causationId: 'job-1' };

/** What a reader of the log compares: everything but the ids, the hashes and the stream. */
const asLogged = (events: RecordedEvent[]) =>
  events.map((e) => {
    const { prevHash: _p, hash: _h, ...metadata } = e.metadata;
    return { revision: e.revision, type: e.type, data: e.data, metadata };
  });

describe('handleCommands (several commands on one stream, one append)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let store: RecordingStore;
  let loader: AggregateLoader;
  let stream: string;
  const now = () => new Date('2031-02-03T04:05:06.000Z');
  const newHost = async (): Promise<string> => {
    const id = hostStream(randomUUID());
    await handleCommand(loader, hostDecider, id, registerHost('h'), META);
    return id;
  };

  beforeEach(async () => {
    const tmp = await tempSqliteStore();
    cleanups.push(tmp.cleanup);
    store = new RecordingStore(tmp.store);
    loader = new AggregateLoader(store);
    stream = await newHost();
  });
  after(async () => {
    for (const c of cleanups) await c();
  });

  test('writes in one append the log the commands write one by one: same events, order, metadata', async () => {
    const commands = [reserveCapacity('a', 256), releaseCapacity('a'), reserveCapacity('b', 512)];
    const oneByOne = await newHost();
    for (const c of commands) await handleCommand(loader, hostDecider, oneByOne, c, META, { now });
    const appends = store.appends.length;
    const result = await handleCommands(loader, hostDecider, stream, commands, META, { now });
    assert.equal(store.appends.length - appends, 1, 'one append');
    // Both hosts were registered apart (at their own time): the commands' events are compared.
    const logged = async (id: string) => asLogged((await store.inner.readStream(id)).slice(1));
    assert.deepEqual(await logged(stream), await logged(oneByOne));
    assert.deepEqual(
      result.events.map((e) => e.metadata.command?.type),
      commands.map((c) => c.type),
    );
    assert.equal(result.revision, 3n);
    assert.deepEqual(result.state, (await new AggregateLoader(store.inner).load(hostDecider, stream)).state);
  });

  test('delivered again, it appends nothing and answers the state as the store has it', async () => {
    const commands = [reserveCapacity('a', 256), reserveCapacity('b', 256)];
    await handleCommands(loader, hostDecider, stream, commands, META);
    const appends = store.appends.length;
    const again = await handleCommands(loader, hostDecider, stream, commands, META);
    assert.equal(store.appends.length, appends, 'no append');
    assert.deepEqual(again.events, []);
    assert.equal(again.revision, 2n);
    assert.equal((await store.inner.readStream(stream)).length, 3);
  });

  test('a command already done is skipped, checked against the store; the others are appended', async () => {
    // Another process reserved `a` behind this loader's cache: the cache alone would reserve it again.
    await handleCommand(new AggregateLoader(store.inner), hostDecider, stream, reserveCapacity('a', 256), META);
    const result = await handleCommands(
      loader,
      hostDecider,
      stream,
      [reserveCapacity('a', 256), reserveCapacity('b', 256)],
      META,
    );
    assert.deepEqual(
      result.events.map((e) => e.data),
      [{ vmId: 'b', operationId: 'op-b', vcpus: 1, memoryMiB: 256 }],
    );
    const types = (await store.inner.readStream(stream)).map((e) => e.type);
    assert.deepEqual(types, ['HostRegistered', 'HostCapacityReserved', 'HostCapacityReserved']);
  });

  test('a refused command: the events of the commands before it are appended, then the refusal is thrown', async () => {
    await assert.rejects(
      handleCommands(
        loader,
        hostDecider,
        stream,
        [reserveCapacity('a', 512), reserveCapacity('big', 1024), reserveCapacity('c', 1)],
        META,
      ),
      (err: unknown) => err instanceof DomainError && err.code === 'capacity',
    );
    const { state, revision } = await new AggregateLoader(store.inner).load(hostDecider, stream);
    assert.equal(revision, 1n);
    assert.deepEqual(allocatedVmIds(state.allocations), ['a'], 'the command after the refused one is not decided');
  });

  test('a concurrent change decides every command again on the new state', async () => {
    await handleCommand(loader, hostDecider, stream, reserveCapacity('warm', 1), META);
    const appends = store.appends.length;
    // Between the decision and the append, another writer takes 256 of the 1023 left.
    store.beforeNextAppend = () =>
      handleCommand(new AggregateLoader(store.inner), hostDecider, stream, reserveCapacity('thief', 256), META).then(
        () => undefined,
      );
    await assert.rejects(
      handleCommands(loader, hostDecider, stream, [reserveCapacity('a', 512), reserveCapacity('b', 500)], META),
      (err: unknown) => err instanceof DomainError && err.code === 'capacity',
    );
    assert.equal(store.appends.length - appends, 2, 'the refused append, then the one decided again');
    const { state } = await new AggregateLoader(store.inner).load(hostDecider, stream);
    assert.deepEqual(allocatedVmIds(state.allocations), ['a', 'thief', 'warm'], 'b no longer fits; a still does');
  });
});
