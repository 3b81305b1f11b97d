import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HOST_B, H, handedOff, targetPrepared, vm } from '../../../test/support/vm-histories.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';

// A migration's cancel is only asked: QEMU decides, and the step's result closes the operation.

const cancel: VmCommand = { type: 'CancelOperation', operationId: 'op-migrate', by: 'alice', reason: 'wrong target' };
const asked = (step: 'prepareIncoming' | 'migrate'): VmEvent => ({
  type: 'VmOperationCancelRequested',
  data: { operationId: 'op-migrate', step, cancelled: { by: 'alice', reason: 'wrong target' } },
});
const cancelledAt = (step: 'prepareIncoming' | 'migrate', detail: string): VmEvent => ({
  type: 'VmOperationFailed',
  data: {
    operationId: 'op-migrate',
    kind: 'migrate',
    step,
    reason: `cancelled by alice: wrong target (${detail})`,
    state: 'running',
    cancelled: { by: 'alice', reason: 'wrong target' },
  },
});
const prepared = () => [...H.migrating, targetPrepared('op-migrate', HOST_B)];
const succeeded = (step: 'prepareIncoming' | 'migrate' | 'finishIncoming'): VmCommand => ({
  type: 'RecordStepSucceeded',
  operationId: 'op-migrate',
  step,
  output: step === 'prepareIncoming' ? { endpoint: { host: '127.0.0.1' } } : {},
  at: 'x',
});
const failedStep = (step: 'prepareIncoming' | 'migrate' | 'finishIncoming', reason: string): VmCommand => ({
  type: 'RecordStepFailed',
  operationId: 'op-migrate',
  step,
  reason,
});

describe('VM decider: cancelling a migration (QEMU decides)', () => {
  test('during migrate: only the request is recorded, the VM still migrating; a second cancel adds nothing', () => {
    const s = vm(prepared())
      .when(cancel)
      .then([asked('migrate')]);
    assert.equal(s.state, 'migrating');
    assert.deepEqual(s.pending?.cancelRequested, { by: 'alice', reason: 'wrong target' });
    vm([...prepared(), asked('migrate')])
      .when(cancel)
      .thenNothing();
  });

  test('the driver answers failed (QEMU cancelled it): cancelled by alice, back on the source', () => {
    const s = vm([...prepared(), asked('migrate')])
      .when(failedStep('migrate', 'migration was cancelled'))
      .then([cancelledAt('migrate', 'migration was cancelled')]);
    assert.equal(s.state, 'running');
    assert.equal(s.hostId, 'host-a');
    assert.equal(s.migration, null);
  });

  test('the driver answers succeeded (QEMU had completed): too late, recorded as the hand-off it is', () => {
    const s = vm([...prepared(), asked('migrate')])
      .when(succeeded('migrate'))
      .then([handedOff('op-migrate', HOST_B)]);
    assert.equal(s.migration?.handedOff, true);
    // After the hand-off a failure is the migration's own, never a cancel.
    vm([...prepared(), asked('migrate'), handedOff('op-migrate', HOST_B)])
      .when(failedStep('finishIncoming', 'boom'))
      .then([
        {
          type: 'VmOperationFailed',
          data: { operationId: 'op-migrate', kind: 'migrate', step: 'finishIncoming', reason: 'boom', state: 'failed' },
        },
      ]);
  });

  test('during prepareIncoming: a target prepared anyway is cancelled (the saga aborts it), a failure too', () => {
    vm(H.migrating)
      .when(cancel)
      .then([asked('prepareIncoming')]);
    const s = vm([...H.migrating, asked('prepareIncoming')])
      .when(succeeded('prepareIncoming'))
      .then([cancelledAt('prepareIncoming', 'the target on host-b was prepared; it is aborted')]);
    assert.equal(s.state, 'running');
    vm([...H.migrating, asked('prepareIncoming')])
      .when(failedStep('prepareIncoming', 'prepareIncoming not started'))
      .then([cancelledAt('prepareIncoming', 'prepareIncoming not started')]);
  });
  test('during prepareIncoming, the migrate queued by the target: the migrate’s outcome decides, as QEMU did', () => {
    const endpoint = { host: '127.0.0.1' };
    const queued: VmCommand = {
      type: 'RecordStepSucceeded',
      operationId: 'op-migrate',
      step: 'prepareIncoming',
      output: { endpoint, migrateQueued: true },
      at: 'x',
    };
    const recorded: VmEvent = {
      type: 'VmMigrationTargetPrepared',
      data: { operationId: 'op-migrate', targetHostId: HOST_B, endpoint },
    };
    // Not closed at the prepare: the migrate may be running already.
    const s = vm([...H.migrating, asked('prepareIncoming')])
      .when(queued)
      .then([recorded]);
    assert.equal(s.pending?.awaiting, 'migrate');
    assert.ok(s.pending?.cancelRequested, 'the cancel still asked');
    // The migrate found the cancel and did not start: cancelled, back on the source.
    vm([...H.migrating, asked('prepareIncoming'), recorded])
      .when(failedStep('migrate', 'migrate not started on host host-a: the operation was cancelled'))
      .then([cancelledAt('migrate', 'migrate not started on host host-a: the operation was cancelled')]);
    // QEMU had handed the guest off before the cancel reached it: the hand-off it is.
    vm([...H.migrating, asked('prepareIncoming'), recorded])
      .when(succeeded('migrate'))
      .then([handedOff('op-migrate', HOST_B)]);
  });
});
