import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HOST_A,
  AT,
  CREATE,
  NEW,
  busyMessage,
  createRequested,
  deleteRequested,
  deletedEv,
  operationFailed,
  H,
  vm,
  stateOf,
} from '../../../test/support/vm-histories.js';
import { vmDecider } from './vm.decider.js';
import type { VmCommand } from './vm.commands.js';

// ---------------------------------------------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: delete', () => {
  const del: VmCommand = { type: 'DeleteVm', operationId: NEW };

  test('never placed, failed: requested and deleted at once (no worker has anything to destroy)', () => {
    const s = vm(H.failedUnplaced)
      .when(del)
      .then([deleteRequested(NEW), deletedEv(NEW)]);
    assert.equal(s.state, 'deleted');
    assert.equal(s.pending, null);
  });

  test('still waiting for placement: the create is closed as failed, then requested and deleted at once', () => {
    for (const history of [H.requested, [createRequested({ hostId: HOST_A, start: false })]]) {
      const s = vm(history)
        .when(del)
        .then([
          operationFailed(CREATE, 'create', 'placement', `cancelled: the VM was deleted by operation ${NEW}`, 'failed'),
          deleteRequested(NEW),
          deletedEv(NEW),
        ]);
      assert.equal(s.state, 'deleted');
      assert.equal(s.pending, null);
      const after = [...history, ...vmDecider.decide(del, stateOf(history))];
      vm(after).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_A }).thenNothing();
      vm(after).when({ type: 'FailPlacement', operationId: CREATE, reason: 'x' }).thenNothing();
    }
  });

  test('on a host: deleting until the destroy result, with destroy pending', () => {
    const s = vm(H.running)
      .when(del)
      .then([deleteRequested(NEW)]);
    assert.equal(s.state, 'deleting');
    assert.equal(s.pending?.awaiting, 'destroy');
    assert.equal(s.pending?.stateBefore, 'running');
  });

  test('once placed, a pending create blocks the delete', () => {
    vm(H.provisioning).when(del).thenThrows('conflict', busyMessage(CREATE, 'create'));
    vm(H.createStarting).when(del).thenThrows('conflict', busyMessage(CREATE, 'create'));
  });

  test('deleted: every later command is not_found, a second delete too', () => {
    vm(H.deleted)
      .when(del)
      .thenThrows('not_found', /was deleted/);
    vm(H.deleted)
      .when({ type: 'RecordStepSucceeded', operationId: 'op-delete', step: 'destroy', output: {}, at: AT })
      .thenNothing();
  });
});
