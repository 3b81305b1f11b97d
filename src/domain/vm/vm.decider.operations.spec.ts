import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AT,
  ALL,
  NEW,
  busyMessage,
  startRequested,
  started,
  stopRequested,
  stoppedEv,
  pauseRequested,
  pausedEv,
  snapshotRequested,
  snapshotTaken,
  deleteRequested,
  deletedEv,
  operationFailed,
  H,
  vm,
  stateOf,
} from '../../../test/support/vm-histories.js';
import { COLUMN_NAMES, COLUMNS } from '../../../test/support/vm-columns.js';
import type { StepOutput, VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import { type JobStep, type OperationKind, type VmStateName } from './vm.types.js';

// ---------------------------------------------------------------------------------------------------------------
// Operations: request → running → one result, for every lifecycle verb
// ---------------------------------------------------------------------------------------------------------------

interface Flow {
  name: string;
  history: VmEvent[];
  request: VmCommand;
  requested: VmEvent[];
  kind: OperationKind;
  step: JobStep;
  output?: StepOutput;
  succeeded: VmEvent;
  /** State while the operation is pending, after success, after failure. */
  during: VmStateName;
  after: VmStateName;
  afterFailure: VmStateName;
}

const FLOWS: Flow[] = [
  {
    name: 'start from stopped',
    history: H.stopped,
    request: { type: 'StartVm', operationId: NEW },
    requested: [startRequested(NEW)],
    kind: 'start',
    step: 'start',
    succeeded: started(NEW),
    during: 'stopped',
    after: 'running',
    afterFailure: 'stopped',
  },
  {
    name: 'stop from running',
    history: H.running,
    request: { type: 'StopVm', operationId: NEW, force: false },
    requested: [stopRequested(NEW)],
    kind: 'stop',
    step: 'stop',
    succeeded: stoppedEv(NEW),
    during: 'running',
    after: 'stopped',
    afterFailure: 'running',
  },
  {
    name: 'forced stop with a timeout from paused',
    history: H.paused,
    request: { type: 'StopVm', operationId: NEW, force: true, timeoutMs: 5000 },
    requested: [{ type: 'VmStopRequested', data: { operationId: NEW, force: true, timeoutMs: 5000 } }],
    kind: 'stop',
    step: 'stop',
    succeeded: stoppedEv(NEW),
    during: 'paused',
    after: 'stopped',
    afterFailure: 'paused',
  },
  {
    name: 'reboot from running',
    history: H.running,
    request: { type: 'RebootVm', operationId: NEW, capabilities: ALL },
    requested: [{ type: 'VmRebootRequested', data: { operationId: NEW } }],
    kind: 'reboot',
    step: 'reboot',
    succeeded: { type: 'VmRebooted', data: { operationId: NEW } },
    during: 'running',
    after: 'running',
    afterFailure: 'running',
  },
  {
    name: 'pause from running',
    history: H.running,
    request: { type: 'PauseVm', operationId: NEW, capabilities: ALL },
    requested: [pauseRequested(NEW)],
    kind: 'pause',
    step: 'pause',
    succeeded: pausedEv(NEW),
    during: 'running',
    after: 'paused',
    afterFailure: 'running',
  },
  {
    name: 'resume from paused',
    history: H.paused,
    request: { type: 'ResumeVm', operationId: NEW, capabilities: ALL },
    requested: [{ type: 'VmResumeRequested', data: { operationId: NEW } }],
    kind: 'resume',
    step: 'resume',
    succeeded: { type: 'VmResumed', data: { operationId: NEW } },
    during: 'paused',
    after: 'running',
    afterFailure: 'paused',
  },
  {
    name: 'disk snapshot of a stopped VM',
    history: H.stopped,
    request: { type: 'TakeSnapshot', operationId: NEW, name: 'nightly', memory: false, capabilities: ALL },
    requested: [snapshotRequested(NEW, 'nightly', false)],
    kind: 'snapshot',
    step: 'snapshot',
    succeeded: snapshotTaken(NEW, 'nightly', false),
    during: 'stopped',
    after: 'stopped',
    afterFailure: 'stopped',
  },
  {
    name: 'memory snapshot of a running VM',
    history: H.running,
    request: { type: 'TakeSnapshot', operationId: NEW, name: 'live', memory: true, capabilities: ALL },
    requested: [snapshotRequested(NEW, 'live', true)],
    kind: 'snapshot',
    step: 'snapshot',
    succeeded: snapshotTaken(NEW, 'live', true),
    during: 'running',
    after: 'running',
    afterFailure: 'running',
  },
  {
    name: 'memory snapshot of a paused VM',
    history: H.paused,
    request: { type: 'TakeSnapshot', operationId: NEW, name: 'frozen', memory: true, capabilities: ALL },
    requested: [snapshotRequested(NEW, 'frozen', true)],
    kind: 'snapshot',
    step: 'snapshot',
    succeeded: snapshotTaken(NEW, 'frozen', true),
    during: 'paused',
    after: 'paused',
    afterFailure: 'paused',
  },
  {
    name: 'revert of a stopped VM to a snapshot that leaves it running',
    history: H.stopped,
    request: { type: 'RevertSnapshot', operationId: NEW, name: 'base' },
    requested: [{ type: 'VmSnapshotRevertRequested', data: { operationId: NEW, name: 'base' } }],
    kind: 'revert',
    step: 'revert',
    output: { state: 'running' },
    succeeded: { type: 'VmSnapshotReverted', data: { operationId: NEW, name: 'base', state: 'running' } },
    during: 'stopped',
    after: 'running',
    afterFailure: 'stopped',
  },
  {
    name: 'revert of a running VM to a snapshot that leaves it paused',
    history: H.running,
    request: { type: 'RevertSnapshot', operationId: NEW, name: 'base' },
    requested: [{ type: 'VmSnapshotRevertRequested', data: { operationId: NEW, name: 'base' } }],
    kind: 'revert',
    step: 'revert',
    output: { state: 'paused' },
    succeeded: { type: 'VmSnapshotReverted', data: { operationId: NEW, name: 'base', state: 'paused' } },
    during: 'running',
    after: 'paused',
    afterFailure: 'running',
  },
  {
    name: 'snapshot delete on a paused VM',
    history: H.paused,
    request: { type: 'DeleteSnapshot', operationId: NEW, name: 'base' },
    requested: [{ type: 'VmSnapshotDeleteRequested', data: { operationId: NEW, name: 'base' } }],
    kind: 'deleteSnapshot',
    step: 'deleteSnapshot',
    succeeded: { type: 'VmSnapshotDeleted', data: { operationId: NEW, name: 'base' } },
    during: 'paused',
    after: 'paused',
    afterFailure: 'paused',
  },
  ...(
    [
      ['stopped', H.stopped],
      ['running', H.running],
      ['paused', H.paused],
      ['failed', H.failedOnHost],
    ] as const
  ).map(([from, history]): Flow => ({
    name: `delete from ${from} (on a host)`,
    history,
    request: { type: 'DeleteVm', operationId: NEW },
    requested: [deleteRequested(NEW)],
    kind: 'delete',
    step: 'destroy',
    succeeded: deletedEv(NEW),
    during: 'deleting',
    after: 'deleted',
    afterFailure: from,
  })),
];

describe('VM decider: operations', () => {
  const succeeded = (flow: Flow, operationId = NEW, step = flow.step): VmCommand => ({
    type: 'RecordStepSucceeded',
    operationId,
    step,
    output: flow.output ?? {},
    at: AT,
  });
  const failedCmd = (flow: Flow, operationId = NEW, step = flow.step): VmCommand => ({
    type: 'RecordStepFailed',
    operationId,
    step,
    reason: 'driver said no',
  });
  const otherStep = (step: JobStep): JobStep => (step === 'start' ? 'stop' : 'start');

  for (const flow of FLOWS) {
    describe(flow.name, () => {
      const pending = [...flow.history, ...flow.requested];

      test('accepted: one request event opens a pending operation', () => {
        const before = stateOf(flow.history);
        const s = vm(flow.history).when(flow.request).then(flow.requested);
        assert.equal(s.state, flow.during);
        assert.equal(s.pending?.id, NEW);
        assert.equal(s.pending?.kind, flow.kind);
        assert.equal(s.pending?.awaiting, flow.step);
        assert.equal(s.pending?.running, false);
        assert.equal(s.pending?.stateBefore, before.state);
      });

      test('one operation at a time: every command while it is pending → conflict naming it', () => {
        for (const name of COLUMN_NAMES) {
          if (name === 'CreateVm') continue;
          const err = vm(pending).when(COLUMNS[name].command).thenThrows('conflict', busyMessage(NEW, flow.kind));
          assert.deepEqual(err.details, { operationId: NEW, kind: flow.kind }, name);
        }
        vm(pending)
          .when(COLUMNS.CreateVm.command)
          .thenThrows('conflict', /already exists/);
      });

      test('MarkOperationRunning once only', () => {
        const running: VmEvent = { type: 'VmOperationRunning', data: { operationId: NEW, step: flow.step } };
        const s = vm(pending).when({ type: 'MarkOperationRunning', operationId: NEW, step: flow.step }).then([running]);
        assert.equal(s.pending?.running, true);
        vm([...pending, running])
          .when({ type: 'MarkOperationRunning', operationId: NEW, step: flow.step })
          .thenNothing();
        vm(pending).when({ type: 'MarkOperationRunning', operationId: 'op-other', step: flow.step }).thenNothing();
        vm(flow.history).when({ type: 'MarkOperationRunning', operationId: NEW, step: flow.step }).thenNothing();
      });

      test(`succeeded → ${flow.succeeded.type}, ${flow.after}, nothing pending`, () => {
        const before = stateOf(flow.history);
        const s = vm(pending).when(succeeded(flow)).then([flow.succeeded]);
        assert.equal(s.state, flow.after);
        assert.equal(s.pending, null);
        assert.equal(s.hostId, before.hostId);
      });

      test(`failed → VmOperationFailed, back to ${flow.afterFailure}`, () => {
        const before = stateOf(flow.history);
        const s = vm(pending)
          .when(failedCmd(flow))
          .then([operationFailed(NEW, flow.kind, flow.step, 'driver said no', flow.afterFailure)]);
        assert.equal(s.state, flow.afterFailure);
        assert.equal(s.pending, null);
        assert.deepEqual(s.snapshots, before.snapshots);
        assert.equal(s.hostId, before.hostId);
      });

      test('a result is accepted once: a second success or failure → nothing (already done)', () => {
        const done = [...pending, flow.succeeded];
        vm(done).when(succeeded(flow)).thenNothing();
        vm(done).when(failedCmd(flow)).thenNothing();
        const failed = [...pending, operationFailed(NEW, flow.kind, flow.step, 'x', flow.afterFailure)];
        vm(failed).when(succeeded(flow)).thenNothing();
        vm(failed).when(failedCmd(flow)).thenNothing();
      });

      test('a result for another operation or another step → nothing (already done)', () => {
        vm(pending).when(succeeded(flow, 'op-other')).thenNothing();
        vm(pending).when(failedCmd(flow, 'op-other')).thenNothing();
        vm(pending)
          .when(succeeded(flow, NEW, otherStep(flow.step)))
          .thenNothing();
        vm(pending)
          .when(failedCmd(flow, NEW, otherStep(flow.step)))
          .thenNothing();
        vm(pending)
          .when(succeeded(flow, NEW, 'abortIncoming'))
          .thenNothing();
      });
    });
  }
});
