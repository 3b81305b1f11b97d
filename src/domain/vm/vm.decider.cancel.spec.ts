import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CREATE,
  HOST_B,
  NEW,
  H,
  busyMessage,
  deleteRequested,
  handedOff,
  migrationRequested,
  pauseRequested,
  stopRequested,
  stoppedEv,
  targetPrepared,
  vm,
} from '../../../test/support/vm-histories.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';

// ---------------------------------------------------------------------------------------------------------------
// Cancel (DELETE /v1/operations/{id}) and a forced stop superseding a graceful one
// ---------------------------------------------------------------------------------------------------------------

const cancel = (operationId: string, reason?: string): VmCommand => ({
  type: 'CancelOperation',
  operationId,
  by: 'alice',
  ...(reason ? { reason } : {}),
});

const cancelled = (
  operationId: string,
  kind: 'create' | 'stop' | 'migrate' | 'pause',
  step: string,
  state: string,
  reason: string,
  extra: Record<string, string> = {},
): VmEvent =>
  ({
    type: 'VmOperationFailed',
    data: { operationId, kind, step, reason, state, cancelled: { by: 'alice', ...extra } },
  }) as VmEvent;

describe('VM decider: cancel', () => {
  test('a graceful stop in flight: cancelled by the principal with the reason, the VM back to running', () => {
    const s = vm(H.runningBusy)
      .when(cancel('op-busy', 'guest ignores ACPI'))
      .then([
        cancelled('op-busy', 'stop', 'stop', 'running', 'cancelled by alice: guest ignores ACPI', {
          reason: 'guest ignores ACPI',
        }),
      ]);
    assert.equal(s.state, 'running');
    assert.equal(s.pending, null);
  });

  test('a create on its way: cancelled, the VM failed (deletable), its result afterwards decides nothing', () => {
    const s = vm(H.provisioning)
      .when(cancel(CREATE))
      .then([cancelled(CREATE, 'create', 'define', 'failed', 'cancelled by alice')]);
    assert.equal(s.state, 'failed');
    vm([...H.provisioning, cancelled(CREATE, 'create', 'define', 'failed', 'cancelled by alice')])
      .when({ type: 'RecordStepSucceeded', operationId: CREATE, step: 'define', output: {}, at: 'x' })
      .thenNothing();
  });

  test('a create awaiting placement: cancelled, placement afterwards decides nothing', () => {
    const history = [...H.requested, cancelled(CREATE, 'create', 'placement', 'failed', 'cancelled by alice')];
    vm(H.requested)
      .when(cancel(CREATE))
      .then([cancelled(CREATE, 'create', 'placement', 'failed', 'cancelled by alice')]);
    vm(history).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_B }).thenNothing();
  });

  // A migration before its hand-off: vm.decider.migration-cancel.spec.ts

  test('a migration handed off: too late, 409 naming the target, no events', () => {
    vm([...H.migrating, targetPrepared('op-migrate', HOST_B), handedOff('op-migrate', HOST_B)])
      .when(cancel('op-migrate'))
      .thenThrows('conflict', /handed the VM off to host host-b; too late to cancel/);
  });

  test('a delete in flight: 409 "a delete cannot be cancelled", no events', () => {
    vm([...H.running, deleteRequested('op-del')])
      .when(cancel('op-del'))
      .thenThrows('conflict', /op-del is a delete: a delete cannot be cancelled/);
  });

  test('already cancelled, finished, or not this VM’s operation in flight: no events', () => {
    const once = [...H.runningBusy, cancelled('op-busy', 'stop', 'stop', 'running', 'cancelled by alice')];
    vm(once).when(cancel('op-busy')).thenNothing();
    vm([...H.running, stopRequested('op-x'), stoppedEv('op-x')])
      .when(cancel('op-x'))
      .thenNothing();
    vm(H.runningBusy).when(cancel('op-other')).thenNothing();
  });

  test('a VM that does not exist: not found', () => {
    vm([])
      .when(cancel('op-x'))
      .thenThrows('not_found', /VM not found/);
  });
});

describe('VM decider: a forced stop supersedes a graceful one', () => {
  const force: VmCommand = { type: 'StopVm', operationId: NEW, force: true, by: 'alice' };

  test('graceful stop in flight: it is cancelled (superseded), then the forced stop is requested', () => {
    const s = vm(H.runningBusy)
      .when(force)
      .then([
        {
          type: 'VmOperationFailed',
          data: {
            operationId: 'op-busy',
            kind: 'stop',
            step: 'stop',
            reason: `cancelled: superseded by forced stop ${NEW}`,
            state: 'running',
            cancelled: { by: 'alice', supersededBy: NEW },
          },
        },
        { type: 'VmStopRequested', data: { operationId: NEW, force: true } },
      ]);
    assert.equal(s.pending?.id, NEW);
    assert.equal(s.pending?.force, true);
  });

  test('a graceful stop does not supersede a graceful stop: 409 busy', () => {
    vm(H.runningBusy)
      .when({ type: 'StopVm', operationId: NEW, force: false })
      .thenThrows('conflict', busyMessage('op-busy', 'stop'));
  });

  test('a forced stop does not supersede a forced stop, nor another operation: 409 busy', () => {
    vm([...H.running, stopRequested('op-f', true)])
      .when(force)
      .thenThrows('conflict', busyMessage('op-f', 'stop'));
    vm([...H.running, pauseRequested('op-p')])
      .when(force)
      .thenThrows('conflict', busyMessage('op-p', 'pause'));
    vm(H.migrating).when(force).thenThrows('conflict', busyMessage('op-migrate', 'migrate'));
    void migrationRequested;
  });
});
