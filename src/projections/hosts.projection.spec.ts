import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostEvent } from '../domain/host/host.events.js';
import { hostStream } from '../domain/streams.js';
import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { registered, reserved } from '../../test/support/host-event-fixtures.js';
import { HostsProjection } from './hosts.projection.js';
import { MemoryFold } from './memory-fold.js';
import { ReadModelKeys } from './read-model.keys.js';
import type { HostRecord } from './read-model.types.js';

const keys = new ReadModelKeys('t');
const released = (vmId: string): HostEvent => ({ type: 'HostCapacityReleased', data: { vmId, operationId: 'op' } });

function recorded(events: HostEvent[]): RecordedEvent[] {
  return events.map((e, i) => ({
    id: `e${i}`,
    streamId: hostStream('h1'),
    revision: BigInt(i),
    position: BigInt(i + 1),
    type: e.type,
    data: { ...e.data },
    metadata: {
      principal: 'spec',
      correlationId: 'c',
      causationId: 'c',
      at: `2030-01-01T00:00:0${i % 10}.000Z`,
      schema: 1,
      prevHash: '',
      hash: '',
    },
  }));
}

async function project(events: HostEvent[], fold = new MemoryFold()): Promise<MemoryFold> {
  const p = new HostsProjection(keys);
  for (const e of recorded(events)) await p.apply(e, fold);
  return fold;
}

describe('hosts projection: one small record per host, one key per VM on it', () => {
  test('reservations and releases write the VM keys; the record keeps the count and the sum, not the allocations', async () => {
    const fold = await project([registered, reserved('a'), reserved('b'), reserved('c'), released('b')]);
    const rec = fold.peek<HostRecord>(keys.host('h1'))!;
    assert.equal(rec.vms, 2);
    assert.deepEqual(rec.state.allocations, {});
    assert.deepEqual(rec.state.used, { vcpus: 2, memoryMiB: 1024, diskGiB: 0, volumesGiB: 0 });
    assert.deepEqual(fold.peek(keys.hostAllocation('h1', 'a')), { vcpus: 1, memoryMiB: 512 });
    assert.equal(fold.peek(keys.hostAllocation('h1', 'b')), undefined, 'a released VM leaves no key');
    assert.deepEqual(
      fold
        .keys()
        .filter((k) => k.includes(':vm:'))
        .sort(),
      [keys.hostAllocation('h1', 'a'), keys.hostAllocation('h1', 'c')],
    );
  });

  test('a resize replaces the VM key and keeps the count; a release of a VM not there changes nothing', async () => {
    const resize: HostEvent = {
      type: 'HostCapacityReserved',
      data: { vmId: 'a', operationId: 'r', vcpus: 4, memoryMiB: 2048 },
    };
    const fold = await project([registered, reserved('a'), resize, released('ghost')]);
    const rec = fold.peek<HostRecord>(keys.host('h1'))!;
    assert.equal(rec.vms, 1);
    assert.equal(rec.state.used?.vcpus, 4);
    assert.deepEqual(fold.peek(keys.hostAllocation('h1', 'a')), { vcpus: 4, memoryMiB: 2048 });
  });

  test('a record written before the split (all allocations in it, no count) moves them to their keys on its next event', async () => {
    const fold = new MemoryFold();
    const legacy = {
      state: {
        ...(await project([registered])).peek<HostRecord>(keys.host('h1'))!.state,
        allocations: { a: { vcpus: 1, memoryMiB: 512 }, b: { vcpus: 2, memoryMiB: 256 } },
        used: { vcpus: 3, memoryMiB: 768, diskGiB: 0, volumesGiB: 0 },
      },
      revision: '2',
      createdAt: '2030-01-01T00:00:00.000Z',
      updatedAt: '2030-01-01T00:00:00.000Z',
    };
    fold.set(keys.host('h1'), legacy);
    const p = new HostsProjection(keys);
    const [, next] = recorded([registered, released('a')]);
    await p.apply({ ...next!, revision: 3n, position: 4n }, fold);
    const rec = fold.peek<HostRecord>(keys.host('h1'))!;
    assert.equal(rec.vms, 1);
    assert.deepEqual(rec.state.allocations, {});
    assert.deepEqual(rec.state.used, { vcpus: 2, memoryMiB: 256, diskGiB: 0, volumesGiB: 0 });
    assert.equal(fold.peek(keys.hostAllocation('h1', 'a')), undefined);
    assert.deepEqual(fold.peek(keys.hostAllocation('h1', 'b')), { vcpus: 2, memoryMiB: 256 });
  });

  test('a rolled-back event (a poison one) takes its deleted key back', async () => {
    const fold = await project([registered, reserved('a')]);
    fold.mark();
    await new HostsProjection(keys).apply(recorded([registered, reserved('a'), released('a')])[2]!, fold);
    assert.equal(fold.peek(keys.hostAllocation('h1', 'a')), undefined);
    fold.rollback();
    assert.deepEqual(fold.peek(keys.hostAllocation('h1', 'a')), { vcpus: 1, memoryMiB: 512 });
    assert.equal(fold.peek<HostRecord>(keys.host('h1'))!.vms, 1);
  });
});
