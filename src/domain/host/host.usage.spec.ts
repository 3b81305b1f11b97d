import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import { hostDecider } from './host.decider.js';
import type { HostEvent } from './host.events.js';
import { withAllocation } from './allocations.js';
import { allocated, free, initialHostState, type HostState } from './host.state.js';

const registered: HostEvent = {
  type: 'HostRegistered',
  data: {
    hostId: 'h',
    name: 'h1',
    driver: 'simulated',
    uri: 'sim://',
    capacity: { vcpus: 8, memoryMiB: 4096, diskGiB: 100 },
  },
};
const reserved = (vmId: string, vcpus: number, memoryMiB: number, diskGiB?: number): HostEvent => ({
  type: 'HostCapacityReserved',
  data: { vmId, operationId: `op-${vmId}`, vcpus, memoryMiB, ...(diskGiB !== undefined ? { diskGiB } : {}) },
});
const released = (vmId: string): HostEvent => ({ type: 'HostCapacityReleased', data: { vmId, operationId: 'op-r' } });
const volume = (volumeId: string, sizeGiB: number): HostEvent => ({
  type: 'HostVolumeDiskReserved',
  data: { volumeId, operationId: `op-${volumeId}`, sizeGiB },
});
const volumeGone = (volumeId: string): HostEvent => ({
  type: 'HostVolumeDiskReleased',
  data: { volumeId, operationId: 'op-vr' },
});
const host = (history: HostEvent[]) => given(hostDecider, history);

/** The same state without its kept totals: what allocated() sums from the allocations themselves. */
const summed = (s: HostState): HostState => {
  const { used: _used, ...rest } = s;
  return rest;
};

describe('host usage: totals kept by the fold', () => {
  test('reservations, a resize, releases and volumes add up to what the allocations say', () => {
    const s = host([
      registered,
      reserved('a', 2, 1024, 10),
      reserved('b', 1, 512, 5),
      reserved('a', 3, 1536, 10), // a resize: replaces what a held
      volume('v1', 20),
      volume('v1', 25), // a volume that grew
      volume('v2', 7),
      released('b'),
      volumeGone('v2'),
      released('nobody'), // nothing held: nothing taken off
    ]).state;
    assert.deepEqual(allocated(s), { vcpus: 3, memoryMiB: 1536, diskGiB: 35 });
    assert.deepEqual(allocated(s), allocated(summed(s)), 'the kept totals equal the sum over the allocations');
    assert.deepEqual(free(s), { vcpus: 5, memoryMiB: 2560, diskGiB: 65 });
  });

  test('given a host nearly full, when a VM is released, then its room is reservable again', () => {
    const full = [registered, reserved('a', 4, 2048), reserved('b', 4, 2048)];
    host(full)
      .when({ type: 'ReserveCapacity', vmId: 'c', operationId: 'op-c', vcpus: 1, memoryMiB: 64 })
      .thenThrows('capacity', /has 0 vCPUs and 0 MiB free/);
    host([...full, released('b')])
      .when({ type: 'ReserveCapacity', vmId: 'c', operationId: 'op-c', vcpus: 4, memoryMiB: 2048 })
      .then([{ type: 'HostCapacityReserved', data: { vmId: 'c', operationId: 'op-c', vcpus: 4, memoryMiB: 2048 } }]);
  });

  test('a state without kept totals (a literal, or cached before they were kept) is summed, and folding on keeps it right', () => {
    const old: HostState = {
      ...initialHostState(),
      exists: true,
      id: 'h',
      name: 'h1',
      capacity: { vcpus: 8, memoryMiB: 4096 },
      allocations: withAllocation({}, 'a', { vcpus: 2, memoryMiB: 1024 }),
    };
    assert.deepEqual(allocated(old), { vcpus: 2, memoryMiB: 1024 });
    const next = hostDecider.evolve(old, reserved('b', 1, 512));
    assert.deepEqual(allocated(next), { vcpus: 3, memoryMiB: 1536 });
    assert.deepEqual(allocated(hostDecider.evolve(next, released('a'))), { vcpus: 1, memoryMiB: 512 });
  });

  test('folding never changes the state it started from (the decider stays pure)', () => {
    const before = host([registered, reserved('a', 2, 1024)]).state;
    const copy = structuredClone(before);
    hostDecider.evolve(before, reserved('b', 1, 512));
    hostDecider.evolve(before, released('a'));
    assert.deepEqual(before, copy);
  });
});
