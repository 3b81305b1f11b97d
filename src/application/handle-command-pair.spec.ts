import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, beforeEach, describe, test } from 'node:test';
import { DomainError } from '../domain/domain-error.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { allocatedVmIds } from '../domain/host/allocations.js';
import { hostStream, vmStream } from '../domain/streams.js';
import type { VmCommand } from '../domain/vm/vm.commands.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { registerHost } from '../../test/support/host-event-fixtures.js';
import { RecordingStore, tempSqliteStore } from '../../test/support/recording-store.js';
import { SPEC } from '../../test/support/vm-histories.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import { handleCommandPair } from './handle-command-pair.js';
import { AggregateLoader } from './load-aggregate.js';

const META: CommandMeta = { principal: 'system:saga', correlationId: 'op-create', causationId: 'ev-requested' };
const OP = 'op-create';

describe('handleCommandPair: a host reservation and the VM placement it is for, in one commit', () => {
  const cleanups: Array<() => Promise<void>> = [];
  let store: RecordingStore;
  let loader: AggregateLoader;
  let hostId: string;
  let vmId: string;

  const reserve = (memoryMiB = 512) => ({
    decider: hostDecider,
    streamId: hostStream(hostId),
    command: { type: 'ReserveCapacity' as const, vmId, operationId: OP, vcpus: 1, memoryMiB },
  });
  const place = () => ({
    decider: vmDecider,
    streamId: vmStream(vmId),
    command: { type: 'PlaceVm', operationId: OP, hostId } satisfies VmCommand,
  });
  /** Another create's reservation on the same host, by another process (not this loader's cache). */
  const reserveOther = async (memoryMiB: number): Promise<void> => {
    const command = { type: 'ReserveCapacity' as const, vmId: 'other', operationId: 'op-other', vcpus: 1, memoryMiB };
    await handleCommand(new AggregateLoader(store.inner), hostDecider, hostStream(hostId), command, META);
  };
  /** What a fresh reader (another process) finds on each stream. */
  const fresh = async () => {
    const other = new AggregateLoader(store.inner);
    const host = await other.load(hostDecider, hostStream(hostId));
    const vm = await other.load(vmDecider, vmStream(vmId));
    return { host, vm, allocated: allocatedVmIds(host.state.allocations) };
  };

  beforeEach(async () => {
    const tmp = await tempSqliteStore();
    cleanups.push(tmp.cleanup);
    store = new RecordingStore(tmp.store);
    loader = new AggregateLoader(store);
    hostId = `h-${randomUUID().slice(0, 8)}`;
    vmId = `vm-${randomUUID().slice(0, 8)}`;
    await handleCommand(loader, hostDecider, hostStream(hostId), registerHost(hostId, 1024), META);
    const create: VmCommand = { type: 'CreateVm', vmId, operationId: OP, spec: SPEC, hostId: null, start: true };
    await handleCommand(loader, vmDecider, vmStream(vmId), create, META);
  });
  after(async () => {
    for (const c of cleanups) await c();
  });

  test('both decided on the cached states and appended by one appendMany; the next commands read nothing', async () => {
    const appendsBefore = store.appends.length;
    const readsBefore = store.reads.length;
    const outcome = await handleCommandPair(loader, reserve(), place(), META);
    assert.ok(outcome.ok);
    assert.deepEqual(
      outcome.first.events.map((e) => e.type),
      ['HostCapacityReserved'],
    );
    assert.deepEqual(
      outcome.second.events.map((e) => e.type),
      ['VmPlaced'],
    );
    assert.ok(outcome.first.events[0]!.position < outcome.second.events[0]!.position, 'the reservation first');
    const made = store.appends.slice(appendsBefore);
    assert.deepEqual(
      made.map((a) => a.together),
      [
        [hostStream(hostId), vmStream(vmId)],
        [hostStream(hostId), vmStream(vmId)],
      ],
      'one appendMany carrying both streams',
    );
    assert.equal(store.reads.length, readsBefore, 'decided on the cache: no stream read');
    const { vm, allocated } = await fresh();
    assert.deepEqual(allocated, [vmId]);
    assert.equal(vm.state.hostId, hostId);
    // Both cached states moved on: the cache holds what a read returns.
    assert.deepEqual((await loader.loadCurrent(vmDecider, vmStream(vmId))).state, vm.state);
    assert.deepEqual((await loader.loadCurrent(hostDecider, hostStream(hostId))).state, (await fresh()).host.state);
    assert.equal(store.reads.length, readsBefore, 'both answered from the cache');
  });

  test('a cancel landing between the decision and the append: nothing at all is appended, no reservation for a VM never placed', async () => {
    const cancel: VmCommand = { type: 'CancelOperation', operationId: OP, by: 'alice' };
    store.beforeNextAppend = async () => {
      await handleCommand(new AggregateLoader(store.inner), vmDecider, vmStream(vmId), cancel, META);
    };
    const outcome = await handleCommandPair(loader, reserve(), place(), META);
    assert.ok(outcome.ok);
    assert.deepEqual(outcome.first.events, []);
    assert.deepEqual(outcome.second.events, []);
    const { host, vm, allocated } = await fresh();
    assert.deepEqual(allocated, [], 'the host holds nothing for the cancelled create');
    assert.equal(host.revision, 0n, 'the host stream has its registration only');
    assert.equal(vm.state.hostId, null);
    assert.equal(vm.state.state, 'failed');
  });

  test('another reservation slips onto the host: decided again, and stored together while it still fits', async () => {
    store.beforeNextAppend = () => reserveOther(256);
    const outcome = await handleCommandPair(loader, reserve(512), place(), META);
    assert.ok(outcome.ok);
    assert.equal(outcome.first.revision, 2n, 'after the other reservation');
    const { vm, allocated } = await fresh();
    assert.deepEqual(allocated.sort(), ['other', vmId].sort());
    assert.equal(vm.state.hostId, hostId);
  });

  test('another reservation takes the room: the host refuses (given on a fresh read) and the VM stream gets nothing', async () => {
    store.beforeNextAppend = () => reserveOther(768);
    const outcome = await handleCommandPair(loader, reserve(512), place(), META);
    assert.ok(!outcome.ok);
    assert.equal(outcome.refused, 'first');
    assert.ok(outcome.error instanceof DomainError && outcome.error.code === 'capacity', String(outcome.error));
    const { vm, allocated } = await fresh();
    assert.deepEqual(allocated, ['other']);
    assert.equal(vm.state.hostId, null);
    assert.equal(vm.state.pending?.awaiting, 'placement');
  });

  test('a store without appendMany: the reservation, then the placement, as two appends', async () => {
    const plain = new Proxy(store, {
      get(target, prop) {
        if (prop === 'appendMany') return undefined;
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    }) as EventStore;
    const appendsBefore = store.appends.length;
    const outcome = await handleCommandPair(new AggregateLoader(plain), reserve(), place(), META);
    assert.ok(outcome.ok);
    assert.deepEqual(
      store.appends.slice(appendsBefore).map((a) => [a.streamId, a.together]),
      [
        [hostStream(hostId), undefined],
        [vmStream(vmId), undefined],
      ],
    );
    const { vm, allocated } = await fresh();
    assert.deepEqual(allocated, [vmId]);
    assert.equal(vm.state.hostId, hostId);
  });

  test('the placement done before (a replay): nothing appended on either stream', async () => {
    const first = await handleCommandPair(loader, reserve(), place(), META);
    assert.ok(first.ok);
    const appendsBefore = store.appends.length;
    const again = await handleCommandPair(loader, reserve(), place(), META);
    assert.ok(again.ok);
    assert.deepEqual([again.first.events, again.second.events], [[], []]);
    assert.equal(store.appends.length, appendsBefore);
  });
});
