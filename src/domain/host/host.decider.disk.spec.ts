import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import { hostDecider } from './host.decider.js';
import type { HostEvent } from './host.events.js';
import { allocated, free } from './host.state.js';

const registered = (diskGiB?: number): HostEvent => ({
  type: 'HostRegistered',
  data: {
    hostId: 'h',
    name: 'h1',
    driver: 'qemu',
    uri: 'qemu:///system',
    capacity: { vcpus: 8, memoryMiB: 8192, ...(diskGiB !== undefined ? { diskGiB } : {}) },
  },
});
const host = (history: HostEvent[]) => given(hostDecider, history);
const vmReserved: HostEvent = {
  type: 'HostCapacityReserved',
  data: { vmId: 'vm-1', operationId: 'op-1', vcpus: 1, memoryMiB: 512, diskGiB: 30 },
};
const volReserved: HostEvent = {
  type: 'HostVolumeDiskReserved',
  data: { volumeId: 'vol-1', operationId: 'op-v', sizeGiB: 15 },
};

describe('host decider: disk (VM disks + volumes)', () => {
  test('a host with diskGiB counts VM disks and volumes; what does not fit is refused naming the host', () => {
    const s = host([registered(50), vmReserved, volReserved]).state;
    assert.deepEqual(allocated(s), { vcpus: 1, memoryMiB: 512, diskGiB: 45 });
    assert.equal(free(s).diskGiB, 5);
    host([registered(50), vmReserved, volReserved])
      .when({ type: 'ReserveVolumeDisk', volumeId: 'vol-2', operationId: 'op-2', sizeGiB: 6 })
      .thenThrows('capacity', /host h1 \(h\) has 5 GiB of disk free; the volume needs 6 GiB/);
    host([registered(50), vmReserved, volReserved])
      .when({ type: 'ReserveCapacity', vmId: 'vm-2', operationId: 'op-3', vcpus: 1, memoryMiB: 64, diskGiB: 6 })
      .thenThrows('capacity', /5 GiB of disk free; the VM needs 6 GiB/);
  });

  test('a volume that grows takes its new size, counting what it held', () => {
    host([registered(50), vmReserved, volReserved])
      .when({ type: 'ReserveVolumeDisk', volumeId: 'vol-1', operationId: 'op-r', sizeGiB: 20 })
      .then([{ type: 'HostVolumeDiskReserved', data: { volumeId: 'vol-1', operationId: 'op-r', sizeGiB: 20 } }]);
    host([registered(50), vmReserved, volReserved])
      .when({ type: 'ReserveVolumeDisk', volumeId: 'vol-1', operationId: 'op-r', sizeGiB: 15 })
      .thenNothing();
  });

  test('a host registered without diskGiB does not count disk (unlimited), and reads as before', () => {
    const s = host([registered(), vmReserved]).state;
    assert.deepEqual(allocated(s), { vcpus: 1, memoryMiB: 512 });
    assert.equal(free(s).diskGiB, undefined);
    host([registered(), vmReserved])
      .when({ type: 'ReserveVolumeDisk', volumeId: 'vol-9', operationId: 'op-9', sizeGiB: 100000 })
      .then([{ type: 'HostVolumeDiskReserved', data: { volumeId: 'vol-9', operationId: 'op-9', sizeGiB: 100000 } }]);
  });

  test('a host that keeps volumes cannot be removed (409 naming them)', () => {
    host([registered(50), volReserved])
      .when({ type: 'RemoveHost' })
      .thenThrows('conflict', /still keeps 1 volume \(vol-1\)/);
  });

  test('released disk is free again; a capacity without diskGiB keeps the disk; shrinking below use is refused', () => {
    const s = host([registered(50), volReserved])
      .when({ type: 'ReleaseVolumeDisk', volumeId: 'vol-1', operationId: 'op-x' })
      .then([{ type: 'HostVolumeDiskReleased', data: { volumeId: 'vol-1', operationId: 'op-x' } }]);
    assert.equal(free(s).diskGiB, 50);
    host([registered(50)])
      .when({ type: 'UpdateHost', capacity: { vcpus: 8, memoryMiB: 8192 } })
      .thenNothing();
    host([registered(50), vmReserved])
      .when({ type: 'UpdateHost', capacity: { vcpus: 8, memoryMiB: 8192, diskGiB: 10 } })
      .thenThrows('conflict', /cannot shrink/);
  });
});
