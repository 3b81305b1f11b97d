import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HOST_A,
  HOST_B,
  AT,
  ALL,
  without,
  NEW,
  stopRequested,
  snapshotRequested,
  snapshotTaken,
  migrationRequested,
  targetPrepared,
  handedOff,
  migrated,
  operationFailed,
  H,
  vm,
  stateOf,
} from '../../../test/support/vm-histories.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import { type CapabilityView } from './vm.types.js';

// ---------------------------------------------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: snapshots', () => {
  const take = (name: string, memory: boolean, capabilities = ALL): VmCommand => ({
    type: 'TakeSnapshot',
    operationId: NEW,
    name,
    memory,
    capabilities,
  });

  test('a taken snapshot joins the list with its memory flag and time', () => {
    assert.deepEqual(stateOf(H.running).snapshots, [{ name: 'base', memory: false, createdAt: AT }]);
    const later = '2030-02-01T00:00:00.000Z';
    const s = vm([...H.running, snapshotRequested(NEW, 'live', true)])
      .when({ type: 'RecordStepSucceeded', operationId: NEW, step: 'snapshot', output: {}, at: later })
      .then([snapshotTaken(NEW, 'live', true, later)]);
    assert.deepEqual(s.snapshots, [
      { name: 'base', memory: false, createdAt: AT },
      { name: 'live', memory: true, createdAt: later },
    ]);
  });

  test('name taken → conflict, whatever the memory flag', () => {
    vm(H.running)
      .when(take('base', false))
      .thenThrows('conflict', /^snapshot base already exists$/);
    vm(H.running)
      .when(take('base', true))
      .thenThrows('conflict', /^snapshot base already exists$/);
    vm(H.stopped)
      .when(take('base', false))
      .thenThrows('conflict', /^snapshot base already exists$/);
  });

  test('unknown name → not_found for revert and delete', () => {
    for (const history of [H.running, H.stopped, H.paused]) {
      vm(history)
        .when({ type: 'RevertSnapshot', operationId: NEW, name: 'nope' })
        .thenThrows('not_found', /^snapshot nope not found$/);
      vm(history)
        .when({ type: 'DeleteSnapshot', operationId: NEW, name: 'nope' })
        .thenThrows('not_found', /^snapshot nope not found$/);
    }
  });

  test('memory snapshot of a stopped VM → conflict', () => {
    vm(H.stopped)
      .when(take('mem', true))
      .thenThrows('conflict', /memory snapshot needs a running or paused VM/);
  });

  test('a pending snapshot is not in the list; a failed one never gets there', () => {
    const pending = [...H.running, snapshotRequested(NEW, 'live', true)];
    assert.deepEqual(
      stateOf(pending).snapshots.map((s) => s.name),
      ['base'],
    );
    const s = vm(pending)
      .when({ type: 'RecordStepFailed', operationId: NEW, step: 'snapshot', reason: 'disk full' })
      .then([operationFailed(NEW, 'snapshot', 'snapshot', 'disk full', 'running')]);
    assert.deepEqual(
      s.snapshots.map((x) => x.name),
      ['base'],
    );
  });

  test('delete removes it from the list and frees the name; revert keeps the list', () => {
    const deleteRequestedEv: VmEvent = { type: 'VmSnapshotDeleteRequested', data: { operationId: NEW, name: 'base' } };
    const pending = [...H.running, deleteRequestedEv];
    const s = vm(pending)
      .when({ type: 'RecordStepSucceeded', operationId: NEW, step: 'deleteSnapshot', output: {}, at: AT })
      .then([{ type: 'VmSnapshotDeleted', data: { operationId: NEW, name: 'base' } }]);
    assert.deepEqual(s.snapshots, []);
    const afterDelete: VmEvent[] = [
      ...pending,
      { type: 'VmSnapshotDeleted', data: { operationId: NEW, name: 'base' } },
    ];
    vm(afterDelete)
      .when(take('base', false))
      .then([snapshotRequested(NEW, 'base', false)]);
    vm(afterDelete)
      .when({ type: 'RevertSnapshot', operationId: 'op-2', name: 'base' })
      .thenThrows('not_found', /snapshot base not found/);

    const reverted = stateOf([
      ...H.running,
      { type: 'VmSnapshotRevertRequested', data: { operationId: NEW, name: 'base' } },
      { type: 'VmSnapshotReverted', data: { operationId: NEW, name: 'base', state: 'stopped' } },
    ]);
    assert.deepEqual(reverted.snapshots, [{ name: 'base', memory: false, createdAt: AT }]);
    assert.equal(reverted.state, 'stopped');
  });

  test('snapshots survive stop, pause and migration', () => {
    const names = (h: VmEvent[]) => stateOf(h).snapshots.map((s) => s.name);
    assert.deepEqual(names(H.stopped), ['base']);
    assert.deepEqual(names(H.paused), ['base']);
    assert.deepEqual(
      names([
        ...H.migrating,
        targetPrepared('op-migrate', HOST_B),
        handedOff('op-migrate', HOST_B),
        migrated('op-migrate', HOST_A, HOST_B),
      ]),
      ['base'],
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Capabilities → unsupported (422)
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: capability refusals', () => {
  const migrate = (
    live: boolean,
    source: { driver: string; capabilities: CapabilityView },
    target: { driver: string; capabilities: CapabilityView },
  ): VmCommand => ({ type: 'MigrateVm', operationId: NEW, targetHostId: HOST_B, live, source, target });
  const qemu = (capabilities = ALL) => ({ driver: 'qemu', capabilities });

  test('pause', () => {
    vm(H.running)
      .when({ type: 'PauseVm', operationId: NEW, capabilities: without('pause') })
      .thenThrows('unsupported', /^the host's driver cannot pause$/);
  });

  test('resume (needs the pause capability)', () => {
    vm(H.paused)
      .when({ type: 'ResumeVm', operationId: NEW, capabilities: without('pause') })
      .thenThrows('unsupported', /cannot resume/);
  });

  test('reboot', () => {
    vm(H.running)
      .when({ type: 'RebootVm', operationId: NEW, capabilities: without('reboot') })
      .thenThrows('unsupported', /cannot reboot/);
  });

  test('memory snapshot (running and paused)', () => {
    for (const history of [H.running, H.paused]) {
      vm(history)
        .when({
          type: 'TakeSnapshot',
          operationId: NEW,
          name: 'm',
          memory: true,
          capabilities: without('memorySnapshots'),
        })
        .thenThrows('unsupported', /cannot take memory snapshots/);
    }
  });

  test('disk snapshot (any idle state)', () => {
    for (const history of [H.running, H.paused, H.stopped]) {
      vm(history)
        .when({
          type: 'TakeSnapshot',
          operationId: NEW,
          name: 'd',
          memory: false,
          capabilities: without('diskSnapshots'),
        })
        .thenThrows('unsupported', /cannot take disk snapshots/);
    }
  });

  test('a missing capability does not block the others', () => {
    vm(H.running)
      .when({
        type: 'TakeSnapshot',
        operationId: NEW,
        name: 'd',
        memory: false,
        capabilities: without('memorySnapshots'),
      })
      .then([snapshotRequested(NEW, 'd', false)]);
    vm(H.running)
      .when({ type: 'StopVm', operationId: NEW, force: true })
      .then([stopRequested(NEW, true)]);
  });

  test('live migration: either side without it', () => {
    vm(H.running)
      .when(migrate(true, qemu(without('liveMigration')), qemu()))
      .thenThrows('unsupported', /cannot live-migrate/);
    vm(H.running)
      .when(migrate(true, qemu(), qemu(without('liveMigration'))))
      .thenThrows('unsupported', /cannot live-migrate/);
    vm(H.running)
      .when(migrate(true, qemu(without('coldMigration')), qemu(without('coldMigration'))))
      .then([migrationRequested(NEW, HOST_A, HOST_B, true)]);
  });

  test('cold migration: either side without it', () => {
    vm(H.stopped)
      .when(migrate(false, qemu(without('coldMigration')), qemu()))
      .thenThrows('unsupported', /cannot cold-migrate/);
    vm(H.stopped)
      .when(migrate(false, qemu(), qemu(without('coldMigration'))))
      .thenThrows('unsupported', /cannot cold-migrate/);
    vm(H.stopped)
      .when(migrate(false, qemu(without('liveMigration')), qemu(without('liveMigration'))))
      .then([migrationRequested(NEW, HOST_A, HOST_B, false)]);
  });

  test('migration across driver kinds', () => {
    vm(H.running)
      .when(migrate(true, qemu(), { driver: 'libvirt', capabilities: ALL }))
      .thenThrows('unsupported', /^cannot migrate between a qemu host and a libvirt host$/);
    vm(H.stopped)
      .when(migrate(false, { driver: 'container', capabilities: ALL }, qemu()))
      .thenThrows('unsupported', /between a container host and a qemu host/);
  });
});
