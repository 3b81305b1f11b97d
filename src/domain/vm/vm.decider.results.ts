import type { ObservedState, VmCommand } from './vm.commands.js';
import type { Evidence } from './evidence.js';
import type { VmEvent } from './vm.events.js';
import type { PendingOperation, VmState } from './vm.state.js';
import { closeCancelledMigration } from './vm.cancel.js';
import type { JobStep, VmStateName } from './vm.types.js';
import { isVolumeStep, volumeStepSucceeded } from './vm.decider.volumes.js';
import { resizeSucceeded } from './vm.decider.resize.js';

/**
 * What the VM decider makes of a worker's results (a step succeeded or failed)
 * and of what a driver observes: the result side of the decider, apart from the
 * commands people send (vm.decider.ts).
 */

type Cmd<T extends VmCommand['type']> = Extract<VmCommand, { type: T }>;

/**
 * A result counts only for the operation in flight and the step it waits for;
 * anything else was recorded before (a redelivery) or belongs to an operation
 * already closed: undefined, and the caller decides no events.
 */
export function pendingFor(
  state: VmState,
  operationId: string,
  step: JobStep | 'placement',
): PendingOperation | undefined {
  const p = state.pending;
  return p && p.id === operationId && p.awaiting === step ? p : undefined;
}

export function onStepSucceeded(cmd: Cmd<'RecordStepSucceeded'>, state: VmState): VmEvent[] {
  const p = pendingFor(state, cmd.operationId, cmd.step);
  if (!p) return [];
  const operationId = p.id;
  if (isVolumeStep(cmd.step)) return volumeStepSucceeded(cmd.step, state);
  switch (cmd.step) {
    case 'define': {
      // Only where a start is awaited does "the same job starts it" mean anything.
      const startFollows = cmd.output.startFollows === true && state.startAfterCreate === true && p.kind === 'create';
      return [
        {
          type: 'VmDefined',
          data: { operationId, hostId: state.hostId ?? '', ...(startFollows ? { startFollows } : {}) },
        },
      ];
    }
    case 'start':
      return [{ type: 'VmStarted', data: { operationId } }];
    case 'stop':
      return [{ type: 'VmStopped', data: { operationId } }];
    case 'reboot':
      return [{ type: 'VmRebooted', data: { operationId } }];
    case 'pause':
      return [{ type: 'VmPaused', data: { operationId } }];
    case 'resume':
      return [{ type: 'VmResumed', data: { operationId } }];
    case 'snapshot':
      return [
        {
          type: 'VmSnapshotTaken',
          data: { operationId, name: p.snapshotName ?? '', memory: p.memory ?? false, createdAt: cmd.at },
        },
      ];
    case 'revert':
      return [
        {
          type: 'VmSnapshotReverted',
          data: { operationId, name: p.snapshotName ?? '', state: cmd.output.state ?? 'stopped' },
        },
      ];
    case 'deleteSnapshot':
      return [{ type: 'VmSnapshotDeleted', data: { operationId, name: p.snapshotName ?? '' } }];
    case 'prepareIncoming': {
      const prepared: VmEvent = {
        type: 'VmMigrationTargetPrepared',
        data: { operationId, targetHostId: state.migration?.targetHostId ?? '', endpoint: cmd.output.endpoint ?? {} },
      };
      // The source's migrate was queued by the target and may run (it reports `failed` unstarted
      // when it finds the cancel, or QEMU decides): its outcome closes a cancel, not this step.
      if (cmd.output.migrateQueued === true) return [prepared];
      return (
        closeCancelledMigration(
          state,
          `the target on ${state.migration?.targetHostId ?? '?'} was prepared; it is aborted`,
        ) ?? [prepared]
      );
    }
    case 'migrate':
      return [
        { type: 'VmMigrationHandedOff', data: { operationId, targetHostId: state.migration?.targetHostId ?? '' } },
      ];
    case 'finishIncoming':
      return [
        {
          type: 'VmMigrated',
          data: {
            operationId,
            sourceHostId: state.migration?.sourceHostId ?? '',
            targetHostId: state.migration?.targetHostId ?? '',
          },
        },
      ];
    case 'destroy':
      return [{ type: 'VmDeleted', data: { operationId } }];
    case 'resizeLive':
      return resizeSucceeded(p);
    case 'abortIncoming':
      // Compensation runs after the operation has already failed: never awaited, so unreachable here.
      return [];
  }
}

/** Where a VM lands when a step fails: back where it was, unless the failure left it unusable. */
function stateAfterFailure(state: VmState, step: JobStep | 'placement'): VmStateName {
  const p = state.pending;
  if (!p) return state.state;
  if (p.kind === 'create') return 'failed';
  if (p.kind === 'migrate' && step === 'finishIncoming') return 'failed';
  return p.stateBefore;
}

export function failed(state: VmState, step: JobStep | 'placement', reason: string, evidence?: Evidence): VmEvent[] {
  const p = state.pending;
  if (!p) return [];
  return [
    {
      type: 'VmOperationFailed',
      data: {
        operationId: p.id,
        kind: p.kind,
        step,
        reason,
        state: stateAfterFailure(state, step),
        ...(evidence ? { evidence } : {}),
      },
    },
  ];
}

function observedAs(observed: ObservedState): VmStateName {
  switch (observed) {
    case 'running':
      return 'running';
    case 'paused':
      return 'paused';
    case 'stopped':
    case 'crashed':
      return 'stopped';
    case 'absent':
      return 'failed';
  }
}

export function onObserved(cmd: Cmd<'ReportObservedState'>, state: VmState): VmEvent[] {
  if (!state.exists || state.state === 'deleted') return [];
  // The observation acted on goes into whatever event it decides.
  const evidence = cmd.evidence ? { evidence: cmd.evidence } : {};
  const p = state.pending;
  if (p) {
    if (cmd.jobActive) return [];
    // A pending operation with no job left anywhere will never finish by itself: close it with the real state.
    const to = p.kind === 'delete' && cmd.observed === 'absent' ? 'deleted' : observedAs(cmd.observed);
    if (to === 'deleted') return [{ type: 'VmDeleted', data: { operationId: p.id, ...evidence } }];
    return [
      {
        type: 'VmOperationFailed',
        data: {
          operationId: p.id,
          kind: p.kind,
          step: p.awaiting,
          reason: `abandoned: no job is running for it and the driver reports the VM ${cmd.observed} (${cmd.reason})`,
          state: to,
          ...evidence,
        },
      },
    ];
  }
  const from = state.state;
  const up = from === 'running' || from === 'paused';
  if (up && (cmd.observed === 'stopped' || cmd.observed === 'crashed' || cmd.observed === 'absent')) {
    return [{ type: 'VmCrashed', data: { reason: cmd.reason, previousState: from, ...evidence } }];
  }
  const to = observedAs(cmd.observed);
  if ((from === 'running' || from === 'paused' || from === 'stopped') && to !== from && to !== 'failed') {
    return [{ type: 'VmStateReconciled', data: { from, to, reason: cmd.reason, ...evidence } }];
  }
  return [];
}
