import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CREATE,
  HOST_A,
  HOST_B,
  SPEC,
  VM_ID,
  defined,
  placed,
  started,
  stopRequested,
  stoppedEv,
  vm,
} from '../../../test/support/vm-histories.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import type { PlacementEvidence } from './evidence.js';

const EVIDENCE: PlacementEvidence = { kind: 'placement', candidates: [{ hostId: HOST_B, verdict: 'chosen' }] };
const created: VmEvent = {
  type: 'VmCreateRequested',
  data: { vmId: VM_ID, operationId: CREATE, spec: SPEC, requestedHostId: null, start: true, restartPolicy: 'on-crash' },
};
const running: VmEvent[] = [created, placed(HOST_A), defined(HOST_A), started(CREATE)];
const recover = (fenceId = 'f1', from = HOST_A): VmCommand => ({
  type: 'RecoverVm',
  operationId: 'op-rec',
  fenceId,
  fromHostId: from,
  targetHostId: HOST_B,
  evidence: EVIDENCE,
});
const recovery: VmEvent = {
  type: 'VmRecoveryRequested',
  data: { operationId: 'op-rec', fenceId: 'f1', fromHostId: HOST_A, targetHostId: HOST_B, evidence: EVIDENCE },
};

describe('VM decider: recovery after a fence', () => {
  test('a running VM of the fenced host → VmRecoveryRequested: re-placed on the target, define then start', () => {
    const s = vm(running).when(recover()).then([recovery]);
    assert.equal(s.hostId, HOST_B);
    assert.equal(s.state, 'provisioning');
    assert.deepEqual(s.pending && { kind: s.pending.kind, awaiting: s.pending.awaiting }, {
      kind: 'recover',
      awaiting: 'define',
    });
    const d = vm([...running, recovery])
      .when({ type: 'RecordStepSucceeded', operationId: 'op-rec', step: 'define', output: {}, at: 'x' })
      .then([{ type: 'VmDefined', data: { operationId: 'op-rec', hostId: HOST_B } }]);
    assert.equal(d.pending?.awaiting, 'start', 'a recovery always starts the VM');
  });
  test('never twice: the same fence again, or after it moved → nothing', () => {
    vm([...running, recovery])
      .when(recover())
      .thenNothing();
    vm([...running, recovery])
      .when(recover('f2'))
      .thenNothing();
  });
  test('never while not on that host, and a VM someone stopped stays where it is', () => {
    vm(running).when(recover('f1', HOST_B)).thenNothing();
    vm([...running, stopRequested('op-s'), stoppedEv('op-s')])
      .when(recover())
      .thenNothing();
  });
  test('an operation in flight on the dead host is closed first', () => {
    vm([...running, stopRequested('op-s')])
      .when(recover())
      .then([
        {
          type: 'VmOperationFailed',
          data: {
            operationId: 'op-s',
            kind: 'stop',
            step: 'stop',
            reason: `host ${HOST_A} was fenced (f1) while this operation ran there`,
            state: 'stopped',
          },
        },
        recovery,
      ]);
  });
  test('a failed recovery leaves it crashed on the new host (healing may retry there)', () => {
    const s = vm([...running, recovery])
      .when({ type: 'RecordStepFailed', operationId: 'op-rec', step: 'define', reason: 'disk locked' })
      .then([
        {
          type: 'VmOperationFailed',
          data: { operationId: 'op-rec', kind: 'recover', step: 'define', reason: 'disk locked', state: 'stopped' },
        },
      ]);
    assert.equal(s.hostId, HOST_B);
    assert.equal(s.crash?.reason, 'disk locked');
  });
});

describe('VM decider: lost with its host', () => {
  const lost = (fenceId = 'f1'): VmCommand => ({
    type: 'MarkLostWithHost',
    fenceId,
    hostId: HOST_A,
    reason: 'host fenced',
  });
  test('a running VM → crashed with the reason and the fence; once per fence', () => {
    const ev: VmEvent = {
      type: 'VmCrashed',
      data: { reason: 'host fenced', previousState: 'running', fence: { hostId: HOST_A, fenceId: 'f1' } },
    };
    const s = vm(running).when(lost()).then([ev]);
    assert.equal(s.state, 'stopped');
    assert.deepEqual(s.crash?.fence, { hostId: HOST_A, fenceId: 'f1' });
    vm([...running, ev])
      .when(lost())
      .thenNothing();
  });
  test('healing never restarts a VM that went down with its fenced host', () => {
    const ev: VmEvent = {
      type: 'VmCrashed',
      data: { reason: 'host fenced', previousState: 'running', fence: { hostId: HOST_A, fenceId: 'f1' } },
    };
    vm([...running, ev])
      .when({
        type: 'ScheduleRestart',
        operationId: 'op-r',
        causeEventId: 'e1',
        causePosition: '1',
        causeAt: '2030-01-01T00:00:00.000Z',
        settings: { baseMs: 1, maxMs: 1, maxRestarts: 1, windowMs: 1000 },
      })
      .thenNothing();
  });
  test('a migration towards the fenced host, not handed off, fails; the VM stays running on its source', () => {
    const migrating: VmEvent = {
      type: 'VmMigrationRequested',
      data: { operationId: 'op-m', sourceHostId: HOST_B, targetHostId: HOST_A, live: true },
    };
    const onB: VmEvent[] = [created, placed(HOST_B), defined(HOST_B), started(CREATE), migrating];
    const s = vm(onB)
      .when(lost())
      .then([
        {
          type: 'VmOperationFailed',
          data: {
            operationId: 'op-m',
            kind: 'migrate',
            step: 'prepareIncoming',
            reason: `the target host ${HOST_A} was fenced (f1); the VM stays on ${HOST_B}`,
            state: 'running',
          },
        },
      ]);
    assert.equal(s.hostId, HOST_B);
    assert.equal(s.state, 'running');
    assert.equal(s.migration, null);
  });
});
