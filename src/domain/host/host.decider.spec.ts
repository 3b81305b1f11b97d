import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import type { HostCommand } from './host.commands.js';
import { hostDecider } from './host.decider.js';
import type { HostEvent } from './host.events.js';
import { allocated, free } from './host.state.js';
import { allocationEntries } from './allocations.js';

const HOST_ID = 'host-a';
const CAPACITY = { vcpus: 8, memoryMiB: 16384 };

const registered: HostEvent = {
  type: 'HostRegistered',
  data: { hostId: HOST_ID, name: 'rack1-a', driver: 'qemu', uri: 'qemu:///system', capacity: CAPACITY },
};
const reserved = (vmId: string, vcpus: number, memoryMiB: number, operationId = `op-${vmId}`): HostEvent => ({
  type: 'HostCapacityReserved',
  data: { vmId, operationId, vcpus, memoryMiB },
});
const released = (vmId: string, operationId = `op-del-${vmId}`): HostEvent => ({
  type: 'HostCapacityReleased',
  data: { vmId, operationId },
});
const draining: HostEvent = { type: 'HostStateChanged', data: { state: 'draining' } };

const reserve = (vmId: string, vcpus: number, memoryMiB: number, operationId = `op-${vmId}`): HostCommand => ({
  type: 'ReserveCapacity',
  vmId,
  operationId,
  vcpus,
  memoryMiB,
});
const release = (vmId: string, operationId = `op-del-${vmId}`): HostCommand => ({
  type: 'ReleaseCapacity',
  vmId,
  operationId,
});

const host = (history: HostEvent[]) => given(hostDecider, history);

describe('host decider: register', () => {
  const register: HostCommand = {
    type: 'RegisterHost',
    hostId: HOST_ID,
    name: 'rack1-a',
    driver: 'qemu',
    uri: 'qemu:///system',
    capacity: CAPACITY,
  };

  test('a new host: HostRegistered with everything it was given, active, nothing allocated', () => {
    const s = host([]).when(register).then([registered]);
    assert.equal(s.exists, true);
    assert.equal(s.id, HOST_ID);
    assert.equal(s.name, 'rack1-a');
    assert.equal(s.driver, 'qemu');
    assert.equal(s.uri, 'qemu:///system');
    assert.deepEqual(s.capacity, CAPACITY);
    assert.equal(s.state, 'active');
    assert.deepEqual(allocated(s), { vcpus: 0, memoryMiB: 0 });
    assert.deepEqual(free(s), CAPACITY);
  });

  test('twice → conflict', () => {
    host([registered])
      .when(register)
      .thenThrows('conflict', /^host host-a already exists$/);
    host([registered, draining])
      .when(register)
      .thenThrows('conflict', /already exists/);
  });
});

describe('host decider: reserve', () => {
  test('within capacity', () => {
    const s = host([registered])
      .when(reserve('vm-1', 2, 2048))
      .then([reserved('vm-1', 2, 2048)]);
    assert.deepEqual(allocationEntries(s.allocations), [['vm-1', { vcpus: 2, memoryMiB: 2048 }]]);
    assert.deepEqual(free(s), { vcpus: 6, memoryMiB: 14336 });
  });

  test('several VMs add up', () => {
    const s = host([registered, reserved('vm-1', 2, 2048)])
      .when(reserve('vm-2', 4, 8192))
      .then([reserved('vm-2', 4, 8192)]);
    assert.deepEqual(allocated(s), { vcpus: 6, memoryMiB: 10240 });
    assert.deepEqual(free(s), { vcpus: 2, memoryMiB: 6144 });
  });

  test('exactly at capacity: accepted, then the host is full', () => {
    const s = host([registered, reserved('vm-1', 6, 12288)])
      .when(reserve('vm-2', 2, 4096))
      .then([reserved('vm-2', 2, 4096)]);
    assert.deepEqual(free(s), { vcpus: 0, memoryMiB: 0 });
    host([registered])
      .when(reserve('vm-big', 8, 16384))
      .then([reserved('vm-big', 8, 16384)]);
  });

  test('over capacity (vCPUs, memory, or both) → capacity, giving free vs needed', () => {
    const history = [registered, reserved('vm-1', 6, 15360)];
    host(history)
      .when(reserve('vm-2', 3, 512))
      .thenThrows(
        'capacity',
        /^host rack1-a \(host-a\) has 2 vCPUs and 1024 MiB free; the VM needs 3 vCPUs and 512 MiB$/,
      );
    host(history)
      .when(reserve('vm-2', 1, 2048))
      .thenThrows('capacity', /has 2 vCPUs and 1024 MiB free; the VM needs 1 vCPUs and 2048 MiB/);
    host(history)
      .when(reserve('vm-2', 4, 4096))
      .thenThrows('capacity', /has 2 vCPUs and 1024 MiB free; the VM needs 4 vCPUs and 4096 MiB/);
    host([registered])
      .when(reserve('vm-huge', 9, 1024))
      .thenThrows('capacity', /has 8 vCPUs and 16384 MiB free; the VM needs 9 vCPUs/);
  });

  test('idempotent for the same vmId: a second reserve → nothing, even from another operation', () => {
    const history = [registered, reserved('vm-1', 2, 2048)];
    host(history)
      .when(reserve('vm-1', 2, 2048))
      .thenNothing();
    host(history)
      .when(reserve('vm-1', 2, 2048, 'op-retry'))
      .thenNothing();
  });

  test('idempotent even when the host has since filled up or started draining', () => {
    host([registered, reserved('vm-1', 2, 2048), reserved('vm-2', 6, 14336)])
      .when(reserve('vm-1', 2, 2048))
      .thenNothing();
    host([registered, reserved('vm-1', 2, 2048), draining])
      .when(reserve('vm-1', 2, 2048))
      .thenNothing();
  });

  test('a draining host refuses new reservations', () => {
    host([registered, draining])
      .when(reserve('vm-1', 1, 512))
      .thenThrows('capacity', /^host rack1-a \(host-a\) is draining and takes no new VMs$/);
  });

  test('back to active: reservations are accepted again', () => {
    host([registered, draining, { type: 'HostStateChanged', data: { state: 'active' } }])
      .when(reserve('vm-1', 1, 512))
      .then([reserved('vm-1', 1, 512)]);
  });
});

describe('host decider: release', () => {
  test('frees what the VM held', () => {
    const s = host([registered, reserved('vm-1', 2, 2048), reserved('vm-2', 4, 4096)])
      .when(release('vm-1'))
      .then([released('vm-1')]);
    assert.deepEqual(allocationEntries(s.allocations), [['vm-2', { vcpus: 4, memoryMiB: 4096 }]]);
    assert.deepEqual(free(s), { vcpus: 4, memoryMiB: 12288 });
  });

  test('an unknown VM, or one already released → nothing', () => {
    host([registered]).when(release('vm-1')).thenNothing();
    host([registered, reserved('vm-1', 2, 2048), released('vm-1')])
      .when(release('vm-1'))
      .thenNothing();
  });

  test('released room can be reserved again (also by the same VM)', () => {
    const full = [registered, reserved('vm-1', 8, 16384)];
    host(full)
      .when(reserve('vm-2', 1, 1))
      .thenThrows('capacity');
    host([...full, released('vm-1')])
      .when(reserve('vm-2', 8, 16384))
      .then([reserved('vm-2', 8, 16384)]);
    host([...full, released('vm-1')])
      .when(reserve('vm-1', 4, 4096))
      .then([reserved('vm-1', 4, 4096)]);
  });

  test('a draining host still releases', () => {
    const s = host([registered, reserved('vm-1', 2, 2048), draining])
      .when(release('vm-1'))
      .then([released('vm-1')]);
    assert.deepEqual(allocationEntries(s.allocations), []);
  });
});

describe('host decider: state', () => {
  test('active → draining → active; setting the current state again → nothing', () => {
    const s = host([registered]).when({ type: 'SetHostState', state: 'draining' }).then([draining]);
    assert.equal(s.state, 'draining');
    host([registered, draining]).when({ type: 'SetHostState', state: 'draining' }).thenNothing();
    host([registered]).when({ type: 'SetHostState', state: 'active' }).thenNothing();
    host([registered, draining])
      .when({ type: 'SetHostState', state: 'active' })
      .then([{ type: 'HostStateChanged', data: { state: 'active' } }]);
  });
});

describe('host decider: unknown host', () => {
  const commands: HostCommand[] = [
    reserve('vm-1', 1, 512),
    release('vm-1'),
    { type: 'SetHostState', state: 'draining' },
    { type: 'SetHostState', state: 'active' },
  ];
  for (const command of commands) {
    test(`${command.type}${command.type === 'SetHostState' ? ` (${command.state})` : ''} → not_found`, () => {
      host([])
        .when(command)
        .thenThrows('not_found', /^host not found$/);
    });
  }
});
