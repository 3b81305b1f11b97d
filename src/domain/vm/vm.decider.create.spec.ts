import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  VM_ID,
  HOST_A,
  HOST_B,
  AT,
  SPEC,
  CREATE,
  NEW,
  createRequested,
  placed,
  defined,
  startRequested,
  started,
  operationFailed,
  H,
  vm,
  stateOf,
} from '../../../test/support/vm-histories.js';
import type { StepOutput, VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import { type JobStep } from './vm.types.js';

// ---------------------------------------------------------------------------------------------------------------
// Create: placement → define → start
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: create', () => {
  const succeeded = (operationId: string, step: JobStep, output: StepOutput = {}): VmCommand => ({
    type: 'RecordStepSucceeded',
    operationId,
    step,
    output,
    at: AT,
  });
  const stepFailed = (operationId: string, step: JobStep, reason = 'boom'): VmCommand => ({
    type: 'RecordStepFailed',
    operationId,
    step,
    reason,
  });

  test('without hostId: requested, waiting for placement, start defaults through', () => {
    const s = vm([])
      .when({ type: 'CreateVm', vmId: VM_ID, operationId: CREATE, spec: SPEC, hostId: null, start: true })
      .then([createRequested()]);
    assert.equal(s.exists, true);
    assert.equal(s.id, VM_ID);
    assert.deepEqual(s.spec, SPEC);
    assert.equal(s.state, 'requested');
    assert.equal(s.hostId, null);
    assert.equal(s.startAfterCreate, true);
    assert.deepEqual(s.pending, {
      id: CREATE,
      kind: 'create',
      awaiting: 'placement',
      running: false,
      stateBefore: 'requested',
    });
  });

  test('with hostId and start false: the requested host is recorded, the VM will stay stopped', () => {
    const s = vm([])
      .when({ type: 'CreateVm', vmId: VM_ID, operationId: CREATE, spec: SPEC, hostId: HOST_A, start: false })
      .then([createRequested({ hostId: HOST_A, start: false })]);
    assert.equal(s.startAfterCreate, false);
    assert.equal(s.hostId, null, 'a requested host is not a placement');
  });

  test('PlaceVm: provisioning on the host, waiting for define', () => {
    const s = vm(H.requested).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_A }).then([placed()]);
    assert.equal(s.state, 'provisioning');
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.pending?.awaiting, 'define');
  });

  test('PlaceVm twice, for another operation, or after a failed placement → nothing (already done)', () => {
    vm(H.provisioning).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_B }).thenNothing();
    vm(H.requested).when({ type: 'PlaceVm', operationId: 'op-other', hostId: HOST_A }).thenNothing();
    vm(H.failedUnplaced).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_A }).thenNothing();
    vm([]).when({ type: 'PlaceVm', operationId: CREATE, hostId: HOST_A }).thenNothing();
  });

  test('FailPlacement: the create fails, the VM is failed with no host', () => {
    const s = vm(H.requested)
      .when({ type: 'FailPlacement', operationId: CREATE, reason: 'no host has room' })
      .then([operationFailed(CREATE, 'create', 'placement', 'no host has room', 'failed')]);
    assert.equal(s.state, 'failed');
    assert.equal(s.hostId, null);
    assert.equal(s.pending, null);
  });

  test('FailPlacement after placement, twice, or for another operation → nothing (already done)', () => {
    vm(H.provisioning).when({ type: 'FailPlacement', operationId: CREATE, reason: 'x' }).thenNothing();
    vm(H.failedUnplaced).when({ type: 'FailPlacement', operationId: CREATE, reason: 'x' }).thenNothing();
    vm(H.requested).when({ type: 'FailPlacement', operationId: 'op-x', reason: 'x' }).thenNothing();
  });

  test('define succeeded: stopped on the host, create now waits for start', () => {
    const s = vm(H.provisioning).when(succeeded(CREATE, 'define')).then([defined()]);
    assert.equal(s.state, 'stopped');
    assert.equal(s.pending?.id, CREATE);
    assert.equal(s.pending?.awaiting, 'start');
  });

  test('define succeeded in a job that starts the VM too: recorded, so no start job follows; still waits for start', () => {
    const startFollows: VmEvent = {
      type: 'VmDefined',
      data: { operationId: CREATE, hostId: HOST_A, startFollows: true },
    };
    const s = vm(H.provisioning)
      .when(succeeded(CREATE, 'define', { startFollows: true }))
      .then([startFollows]);
    assert.equal(s.pending?.awaiting, 'start');
    vm([...H.provisioning, startFollows])
      .when(succeeded(CREATE, 'start'))
      .then([started(CREATE)]);
    // A create that stays stopped has no start to follow, whatever a worker says.
    vm([createRequested({ start: false, hostId: HOST_A }), placed()])
      .when(succeeded(CREATE, 'define', { startFollows: true }))
      .then([defined()]);
  });

  test('start succeeded: running, create done', () => {
    const s = vm(H.createStarting)
      .when(succeeded(CREATE, 'start'))
      .then([started(CREATE)]);
    assert.equal(s.state, 'running');
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.pending, null);
  });

  test('start false: define finishes the create; the VM stays stopped and can be started later', () => {
    const history = [createRequested({ start: false, hostId: HOST_A }), placed()];
    const s = vm(history).when(succeeded(CREATE, 'define')).then([defined()]);
    assert.equal(s.state, 'stopped');
    assert.equal(s.pending, null);
    const after = [...history, defined()];
    vm(after).when(succeeded(CREATE, 'start')).thenNothing();
    vm(after)
      .when({ type: 'StartVm', operationId: NEW })
      .then([startRequested(NEW)]);
  });

  test('results out of order or repeated → nothing (already done)', () => {
    vm(H.requested).when(succeeded(CREATE, 'define')).thenNothing();
    vm(H.provisioning).when(succeeded(CREATE, 'start')).thenNothing();
    vm(H.createStarting).when(succeeded(CREATE, 'define')).thenNothing();
    vm(H.runningBare).when(succeeded(CREATE, 'start')).thenNothing();
    vm(H.runningBare).when(stepFailed(CREATE, 'start')).thenNothing();
    vm([]).when(succeeded(CREATE, 'define')).thenNothing();
  });

  test('define failed → failed (on its host)', () => {
    const s = vm(H.provisioning)
      .when(stepFailed(CREATE, 'define', 'disk image missing'))
      .then([operationFailed(CREATE, 'create', 'define', 'disk image missing', 'failed')]);
    assert.equal(s.state, 'failed');
    assert.equal(s.hostId, HOST_A);
    assert.equal(s.pending, null);
    vm([...H.provisioning, operationFailed(CREATE, 'create', 'define', 'x', 'failed')])
      .when(succeeded(CREATE, 'define'))
      .thenNothing();
  });

  test('start failed during create → failed', () => {
    const s = vm(H.createStarting)
      .when(stepFailed(CREATE, 'start', 'no memory'))
      .then([operationFailed(CREATE, 'create', 'start', 'no memory', 'failed')]);
    assert.equal(s.state, 'failed');
  });

  test('MarkOperationRunning once for the whole create', () => {
    const s = vm(H.provisioning)
      .when({ type: 'MarkOperationRunning', operationId: CREATE, step: 'define' })
      .then([{ type: 'VmOperationRunning', data: { operationId: CREATE, step: 'define' } }]);
    assert.equal(s.pending?.running, true);
    const marked: VmEvent[] = [
      ...H.provisioning,
      { type: 'VmOperationRunning', data: { operationId: CREATE, step: 'define' } },
    ];
    vm(marked).when({ type: 'MarkOperationRunning', operationId: CREATE, step: 'define' }).thenNothing();
    const s2 = stateOf([...marked, defined()]);
    assert.equal(s2.pending?.running, true, 'still running while waiting for start');
    vm([...marked, defined()])
      .when({ type: 'MarkOperationRunning', operationId: CREATE, step: 'start' })
      .thenNothing();
  });
});
