import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { H, HOST_B, snapshotRequested, snapshotTaken, vm } from '../../../test/support/vm-histories.js';
import { migrateTo } from '../../../test/support/vm-columns.js';
import type { VmCommand } from './vm.commands.js';

const resize = (size: { vcpus?: number; memoryMiB?: number; diskGiB?: number }): VmCommand => ({
  type: 'ResizeVm',
  operationId: 'op-resize',
  ...size,
});

describe('VM decider: resize (cold)', () => {
  test('a stopped VM takes a new size; what is not given stays', () => {
    const s = vm(H.stopped)
      .when(resize({ memoryMiB: 4096, diskGiB: 30 }))
      .then([
        {
          type: 'VmResized',
          data: { operationId: 'op-resize', vcpus: 2, memoryMiB: 4096, diskGiB: 30, maxMemoryMiB: 4096 },
        },
      ]);
    assert.deepEqual(s.spec, { name: 'web-1', vcpus: 2, memoryMiB: 4096, diskGiB: 30, maxMemoryMiB: 4096 });
    assert.equal(s.state, 'stopped');
    assert.equal(s.pending, null);
  });

  test('the same size → nothing', () => {
    vm(H.stopped)
      .when(resize({ vcpus: 2, memoryMiB: 2048, diskGiB: 20 }))
      .thenNothing();
    vm(H.stopped).when(resize({})).thenNothing();
  });

  test('a disk never shrinks → invalid naming diskGiB', () => {
    vm(H.stopped)
      .when(resize({ diskGiB: 10 }))
      .thenThrows('invalid', /^diskGiB: a disk only grows \(it has 20 GiB, asked 10\)$/);
  });

  test('past a ceiling: the ceiling rises with the new size; within it, none is recorded', () => {
    // SPEC has no ceilings recorded (a VM from before them): max = current, so any growth raises them.
    const s = vm(H.stopped)
      .when(resize({ vcpus: 3, memoryMiB: 4096 }))
      .then([
        {
          type: 'VmResized',
          data: { operationId: 'op-resize', vcpus: 3, memoryMiB: 4096, diskGiB: 20, maxVcpus: 3, maxMemoryMiB: 4096 },
        },
      ]);
    assert.equal(s.spec?.maxVcpus, 3);
    vm(H.stopped)
      .when(resize({ vcpus: 1 }))
      .then([{ type: 'VmResized', data: { operationId: 'op-resize', vcpus: 1, memoryMiB: 2048, diskGiB: 20 } }]);
  });

  test('paused or busy → conflict (a running VM is resized live: vm.decider.resize-live.spec.ts)', () => {
    vm(H.paused)
      .when(resize({ vcpus: 4 }))
      .thenThrows('conflict', /cannot resize a VM that is paused \(allowed from: stopped, running\)/);
    vm(H.runningBusy)
      .when(resize({ vcpus: 4 }))
      .thenThrows('conflict', /busy with operation op-busy/);
  });

  test('an unknown or deleted VM → not_found', () => {
    vm([])
      .when(resize({ vcpus: 4 }))
      .thenThrows('not_found');
    vm(H.deleted)
      .when(resize({ vcpus: 4 }))
      .thenThrows('not_found');
  });
});

describe('VM decider: internal snapshots block a live storage migration', () => {
  const withMemorySnapshot = [
    ...H.running,
    snapshotRequested('op-ms', 'mem1', true),
    snapshotTaken('op-ms', 'mem1', true),
  ];

  test('live, storage not shared → conflict naming the snapshots', () => {
    vm(withMemorySnapshot)
      .when(migrateTo(true, HOST_B))
      .thenThrows(
        'conflict',
        /without its internal snapshots \(mem1\); delete them first, or stop the VM and migrate cold/,
      );
  });

  test('live on shared storage, or with disk-only snapshots → accepted', () => {
    const shared = { ...migrateTo(true, HOST_B), internalSnapshotsTravel: true } as VmCommand;
    vm(withMemorySnapshot)
      .when(shared)
      .then([
        {
          type: 'VmMigrationRequested',
          data: { operationId: 'op-new', sourceHostId: 'host-a', targetHostId: HOST_B, live: true },
        },
      ]);
  });
});
