import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HOST_A,
  HOST_B,
  NEW,
  startRequested,
  pauseRequested,
  targetPrepared,
  handedOff,
  deletedEv,
  operationFailed,
  H,
  vm,
  stateOf,
} from '../../../test/support/vm-histories.js';
import type { ObservedState, VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import type { PlacementEvidence } from './evidence.js';
import { type JobStep, type OperationKind, type VmStateName } from './vm.types.js';

// ---------------------------------------------------------------------------------------------------------------
// Reconciliation: what the driver reports
// ---------------------------------------------------------------------------------------------------------------

describe('VM decider: observed state', () => {
  const observe = (observed: ObservedState, jobActive = false): VmCommand => ({
    type: 'ReportObservedState',
    observed,
    reason: 'status poll',
    jobActive,
  });
  const abandoned = (observed: ObservedState): string =>
    `abandoned: no job is running for it and the driver reports the VM ${observed} (status poll)`;

  describe('crash detection (idle VM that was up)', () => {
    for (const [from, history] of [
      ['running', H.running],
      ['paused', H.paused],
    ] as const) {
      for (const observed of ['stopped', 'crashed', 'absent'] as const) {
        test(`${from}, observed ${observed} → VmCrashed, stopped`, () => {
          const s = vm(history)
            .when(observe(observed))
            .then([{ type: 'VmCrashed', data: { reason: 'status poll', previousState: from } }]);
          assert.equal(s.state, 'stopped');
          assert.equal(s.hostId, HOST_A);
          vm([...history, { type: 'VmCrashed', data: { reason: 'x', previousState: from } }])
            .when({ type: 'StartVm', operationId: NEW })
            .then([startRequested(NEW)]);
        });
      }
    }
  });

  describe('reconciled mismatches', () => {
    for (const [from, history, observed] of [
      ['running', H.running, 'paused'],
      ['paused', H.paused, 'running'],
      ['stopped', H.stopped, 'running'],
      ['stopped', H.stopped, 'paused'],
    ] as const) {
      test(`${from}, observed ${observed} → VmStateReconciled`, () => {
        const s = vm(history)
          .when(observe(observed))
          .then([{ type: 'VmStateReconciled', data: { from, to: observed, reason: 'status poll' } }]);
        assert.equal(s.state, observed);
      });
    }
  });

  describe('agreement → nothing', () => {
    for (const [from, history, observed] of [
      ['running', H.running, 'running'],
      ['paused', H.paused, 'paused'],
      ['stopped', H.stopped, 'stopped'],
      ['stopped', H.stopped, 'crashed'],
    ] as const) {
      test(`${from}, observed ${observed}`, () => {
        vm(history).when(observe(observed)).thenNothing();
      });
    }
  });

  test('deleted, never created, failed → nothing', () => {
    for (const observed of ['running', 'paused', 'stopped', 'crashed', 'absent'] as const) {
      vm(H.deleted).when(observe(observed)).thenNothing();
      vm([]).when(observe(observed)).thenNothing();
      vm(H.failedOnHost).when(observe(observed)).thenNothing();
    }
  });

  test('a pending operation whose job is still active → nothing, whatever is observed', () => {
    for (const history of [H.provisioning, H.createStarting, H.runningBusy, H.migrating, H.deleting]) {
      for (const observed of ['running', 'paused', 'stopped', 'crashed', 'absent'] as const) {
        vm(history).when(observe(observed, true)).thenNothing();
      }
    }
  });

  describe('a stuck pending operation with no job → VmOperationFailed with the real state', () => {
    const cases: [string, VmEvent[], ObservedState, OperationKind, JobStep, VmStateName][] = [
      ['stop pending, VM stopped', H.runningBusy, 'stopped', 'stop', 'stop', 'stopped'],
      ['stop pending, VM still running', H.runningBusy, 'running', 'stop', 'stop', 'running'],
      ['start pending, VM running', [...H.stopped, startRequested(NEW)], 'running', 'start', 'start', 'running'],
      ['pause pending, VM crashed', [...H.running, pauseRequested(NEW)], 'crashed', 'pause', 'pause', 'stopped'],
      ['create waiting for define, nothing on the host', H.provisioning, 'absent', 'create', 'define', 'failed'],
      ['create waiting for start, VM stopped', H.createStarting, 'stopped', 'create', 'start', 'stopped'],
      [
        'migration handed off, VM running',
        [...H.migrating, targetPrepared('op-migrate', HOST_B), handedOff('op-migrate', HOST_B)],
        'running',
        'migrate',
        'finishIncoming',
        'running',
      ],
      ['delete pending, VM still running', H.deleting, 'running', 'delete', 'destroy', 'running'],
    ];
    for (const [name, history, observed, kind, step, to] of cases) {
      test(name, () => {
        const id = stateOf(history).pending?.id ?? '';
        const s = vm(history)
          .when(observe(observed))
          .then([operationFailed(id, kind, step, abandoned(observed), to)]);
        assert.equal(s.state, to);
        assert.equal(s.pending, null);
        assert.equal(s.migration, null);
      });
    }
  });

  test('a stuck delete with the VM absent → VmDeleted', () => {
    const s = vm(H.deleting)
      .when(observe('absent'))
      .then([deletedEv('op-delete')]);
    assert.equal(s.state, 'deleted');
  });
});

describe('VM decider: decisions carry their evidence', () => {
  const evidence = {
    kind: 'observation' as const,
    hostId: HOST_A,
    observed: 'crashed' as const,
    detail: 'qemu exited',
    jobActive: false,
    atRevision: 3,
  };

  test('a crash records the observation it acted on', () => {
    vm(H.running)
      .when({ type: 'ReportObservedState', observed: 'crashed', reason: 'qemu exited', jobActive: false, evidence })
      .then([{ type: 'VmCrashed', data: { reason: 'qemu exited', previousState: 'running', evidence } }]);
  });

  test('drift records it too; an observation that changes nothing records nothing', () => {
    const paused = { ...evidence, observed: 'paused' as const };
    vm(H.running)
      .when({ type: 'ReportObservedState', observed: 'paused', reason: 'r', jobActive: false, evidence: paused })
      .then([{ type: 'VmStateReconciled', data: { from: 'running', to: 'paused', reason: 'r', evidence: paused } }]);
    vm(H.running)
      .when({
        type: 'ReportObservedState',
        observed: 'running',
        reason: 'r',
        jobActive: false,
        evidence: { ...evidence, observed: 'running' },
      })
      .then([]);
  });

  test('placement: the candidates go into VmPlaced, or into the failure', () => {
    const candidates = [
      { hostId: HOST_A, verdict: 'chosen' as const },
      { hostId: HOST_B, verdict: 'refused' as const, reason: 'capacity' as const, detail: 'full' },
    ];
    const op = H.requested[0]!.data as { operationId: string };
    vm(H.requested)
      .when({
        type: 'PlaceVm',
        operationId: op.operationId,
        hostId: HOST_A,
        evidence: { kind: 'placement', candidates },
      })
      .then([
        {
          type: 'VmPlaced',
          data: { operationId: op.operationId, hostId: HOST_A, evidence: { kind: 'placement', candidates } },
        },
      ]);
    const none = { kind: 'placement' as const, candidates: [candidates[1]!] };
    vm(H.requested)
      .when({ type: 'FailPlacement', operationId: op.operationId, reason: 'no room', evidence: none })
      .then([operationFailedWith(op.operationId, none)]);
  });
});

function operationFailedWith(operationId: string, evidence: PlacementEvidence): VmEvent {
  return {
    type: 'VmOperationFailed',
    data: {
      operationId,
      kind: 'create',
      step: 'placement',
      reason: 'no room',
      state: 'failed',
      evidence,
    },
  };
}
