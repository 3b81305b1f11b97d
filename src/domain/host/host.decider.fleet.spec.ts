import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import type { HostCommand } from './host.commands.js';
import { hostDecider } from './host.decider.js';
import type { HostEvent } from './host.events.js';
import { allocated } from './host.state.js';

const CAPACITY = { vcpus: 8, memoryMiB: 16384 };
const registered: HostEvent = {
  type: 'HostRegistered',
  data: { hostId: 'host-a', name: 'rack1-a', driver: 'simulated', uri: 'simulated://', capacity: CAPACITY },
};
const reserved = (vmId: string, vcpus: number, memoryMiB: number): HostEvent => ({
  type: 'HostCapacityReserved',
  data: { vmId, operationId: `op-${vmId}`, vcpus, memoryMiB },
});
const draining: HostEvent = { type: 'HostStateChanged', data: { state: 'draining' } };
const removed: HostEvent = { type: 'HostRemoved', data: { hostId: 'host-a', name: 'rack1-a' } };
const host = (history: HostEvent[]) => given(hostDecider, history);

describe('host decider: update (PATCH)', () => {
  test('capacity grows or shrinks down to what is allocated', () => {
    const s = host([registered, reserved('vm-1', 2, 4096)])
      .when({ type: 'UpdateHost', capacity: { vcpus: 2, memoryMiB: 4096 } })
      .then([{ type: 'HostUpdated', data: { capacity: { vcpus: 2, memoryMiB: 4096 } } }]);
    assert.deepEqual(s.capacity, { vcpus: 2, memoryMiB: 4096 });
  });

  test('below what is allocated → conflict with the numbers, nothing decided', () => {
    host([registered, reserved('vm-1', 2, 4096)])
      .when({ type: 'UpdateHost', capacity: { vcpus: 1, memoryMiB: 8192 } })
      .thenThrows('conflict', /has 2 vCPUs and 4096 MiB allocated to 1 VMs; it cannot shrink to 1 vCPUs and 8192 MiB/);
  });

  test('labels replace the old ones; only what changed is recorded', () => {
    const s = host([registered])
      .when({ type: 'UpdateHost', capacity: CAPACITY, labels: { zone: 'a' } })
      .then([{ type: 'HostUpdated', data: { labels: { zone: 'a' } } }]);
    assert.deepEqual(s.labels, { zone: 'a' });
  });

  test('already so → nothing', () => {
    const labelled: HostEvent = { type: 'HostUpdated', data: { labels: { zone: 'a' } } };
    host([registered, labelled])
      .when({ type: 'UpdateHost', capacity: CAPACITY, labels: { zone: 'a' } })
      .thenNothing();
    host([registered]).when({ type: 'UpdateHost' }).thenNothing();
  });
});

describe('host decider: remove (DELETE)', () => {
  test('an empty host → HostRemoved, then every command but remove/release finds no host', () => {
    const s = host([registered, draining]).when({ type: 'RemoveHost' }).then([removed]);
    assert.equal(s.removed, true);
    host([registered, removed])
      .when({ type: 'ReserveCapacity', vmId: 'vm-1', operationId: 'op', vcpus: 1, memoryMiB: 1 })
      .thenThrows('not_found', /host host-a was removed/);
    host([registered, removed]).when({ type: 'SetHostState', state: 'active' }).thenThrows('not_found');
  });

  test('removed already → nothing', () => {
    host([registered, removed]).when({ type: 'RemoveHost' }).thenNothing();
  });

  test('while VMs remain → conflict naming them', () => {
    host([registered, reserved('vm-1', 1, 512), reserved('vm-2', 1, 512)])
      .when({ type: 'RemoveHost' })
      .thenThrows('conflict', /still has 2 VMs \(vm-1, vm-2\); evacuate or delete them first/);
  });

  test('once its VMs are released it can go', () => {
    host([
      registered,
      reserved('vm-1', 1, 512),
      { type: 'HostCapacityReleased', data: { vmId: 'vm-1', operationId: 'x' } },
    ])
      .when({ type: 'RemoveHost' })
      .then([removed]);
  });
});

describe('host decider: resize a reservation', () => {
  const resize = (vcpus: number, memoryMiB: number): HostCommand => ({
    type: 'ResizeReservation',
    vmId: 'vm-1',
    operationId: 'op-r',
    vcpus,
    memoryMiB,
  });

  test('grows within what is free, counting what the VM holds', () => {
    const s = host([registered, reserved('vm-1', 2, 2048), reserved('vm-2', 4, 12288)])
      .when(resize(4, 4096))
      .then([{ type: 'HostCapacityReserved', data: { vmId: 'vm-1', operationId: 'op-r', vcpus: 4, memoryMiB: 4096 } }]);
    assert.deepEqual(allocated(s), { vcpus: 8, memoryMiB: 16384 });
  });

  test('does not fit → capacity with the numbers', () => {
    host([registered, reserved('vm-1', 2, 2048), reserved('vm-2', 4, 12288)])
      .when(resize(4, 8192))
      .thenThrows('capacity', /has 4 vCPUs and 4096 MiB free for this VM; the VM needs 4 vCPUs and 8192 MiB/);
  });

  test('a draining host still resizes what it holds; the same size → nothing', () => {
    host([registered, reserved('vm-1', 2, 2048), draining])
      .when(resize(1, 1024))
      .then([{ type: 'HostCapacityReserved', data: { vmId: 'vm-1', operationId: 'op-r', vcpus: 1, memoryMiB: 1024 } }]);
    host([registered, reserved('vm-1', 2, 2048)])
      .when(resize(2, 2048))
      .thenNothing();
  });

  test('a VM the host does not hold → conflict', () => {
    host([registered])
      .when(resize(1, 512))
      .thenThrows('conflict', /holds no capacity/);
  });
});

describe('host decider: evacuate', () => {
  const children = [{ vmId: 'vm-1', operationId: 'op-m1', targetHostId: 'host-b', live: true }];
  const refused = [{ vmId: 'vm-2', reason: 'busy' }];
  const evacuate: HostCommand = { type: 'StartEvacuation', operationId: 'op-e', children, refused };
  const started: HostEvent = { type: 'HostEvacuationStarted', data: { operationId: 'op-e', children, refused } };

  test('an active host drains first, then records the children and the refusals', () => {
    const s = host([registered, reserved('vm-1', 1, 512)])
      .when(evacuate)
      .then([draining, started]);
    assert.equal(s.state, 'draining');
    assert.deepEqual(s.evacuations['op-e'], { children, refused });
  });

  test('already draining: only the evacuation; the same operation again → nothing', () => {
    host([registered, draining]).when(evacuate).then([started]);
    host([registered, draining, started]).when(evacuate).thenNothing();
  });
});
