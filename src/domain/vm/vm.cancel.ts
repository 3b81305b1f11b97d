import { DomainError } from '../domain-error.js';
import type { VmCommand } from './vm.commands.js';
import type { OperationCancellation, VmEvent } from './vm.events.js';
import type { VmState } from './vm.state.js';
import type { VmStateName } from './vm.types.js';

type Cmd<T extends VmCommand['type']> = Extract<VmCommand, { type: T }>;

/**
 * Where a cancelled operation leaves the VM. A create never finished: failed (the VM can be
 * deleted). Everything else goes back to where it was, because cancelling aborts the driver call
 * and the compensation (migration: abort the incoming side) puts the host back as it was.
 */
function stateAfterCancel(state: VmState): VmStateName {
  const p = state.pending;
  if (!p) return state.state;
  return p.kind === 'create' ? 'failed' : p.stateBefore;
}

function cancelledEvent(state: VmState, cancelled: OperationCancellation, reason: string): VmEvent[] {
  const p = state.pending;
  if (!p) return [];
  return [
    {
      type: 'VmOperationFailed',
      data: { operationId: p.id, kind: p.kind, step: p.awaiting, reason, state: stateAfterCancel(state), cancelled },
    },
  ];
}

/**
 * Cancel the operation in flight. An operation that is no longer in flight (finished, or
 * cancelled already) decides nothing: the caller answers from its recorded status.
 * A migration already handed off cannot be taken back: the VM runs on the target only.
 */
export function onCancel(cmd: Cmd<'CancelOperation'>, state: VmState): VmEvent[] {
  const p = state.pending;
  if (!p || p.id !== cmd.operationId) return [];
  // The host may have destroyed part of the VM already: there is nothing to go back to.
  if (p.kind === 'delete') {
    throw new DomainError(
      'conflict',
      `operation ${p.id} is a delete: a delete cannot be cancelled; wait for it to finish`,
      { operationId: p.id, kind: p.kind, step: p.awaiting },
    );
  }
  if (p.kind === 'migrate' && state.migration?.handedOff) {
    throw new DomainError(
      'conflict',
      `operation ${p.id} (migrate) has handed the VM off to host ${state.migration.targetHostId}; too late to cancel`,
      { operationId: p.id, kind: p.kind, step: p.awaiting },
    );
  }
  const cancelled: OperationCancellation = { by: cmd.by, ...(cmd.reason ? { reason: cmd.reason } : {}) };
  if (p.kind === 'migrate') {
    // Only QEMU knows whether a migration completed before the cancel reached it: ask, and let
    // the step's result close the operation (cancelled, or succeeded when it came too late).
    if (p.cancelRequested) return [];
    return [{ type: 'VmOperationCancelRequested', data: { operationId: p.id, step: p.awaiting, cancelled } }];
  }
  return cancelledEvent(state, cancelled, cancelText(cancelled));
}

function cancelText(c: OperationCancellation): string {
  return `cancelled by ${c.by}${c.reason ? `: ${c.reason}` : ''}`;
}

/**
 * A migration step's result after a cancel was asked, before the hand-off. A failure (the abort
 * reached the driver in time), or a target prepared while the cancel was on its way, closes the
 * operation as cancelled: the saga then aborts the incoming side, as for any failure before the
 * hand-off. A `migrate` that succeeded anyway never comes here: the guest runs on the target only,
 * so it is recorded as the hand-off it is and the cancel came too late. Undefined: no cancel asked.
 */
export function closeCancelledMigration(state: VmState, detail: string): VmEvent[] | undefined {
  const p = state.pending;
  const c = p?.cancelRequested;
  if (!p || !c || (p.awaiting !== 'prepareIncoming' && p.awaiting !== 'migrate')) return undefined;
  return cancelledEvent(state, c, `${cancelText(c)} (${detail})`);
}

/**
 * A forced stop while a graceful stop waits for the guest: the graceful one is cancelled
 * (superseded) in the same append, then the forced stop is requested. Anything else in flight
 * stays a 409 busy (the caller checks that).
 */
export function supersedesGracefulStop(cmd: Cmd<'StopVm'>, state: VmState): boolean {
  const p = state.pending;
  return cmd.force && p?.kind === 'stop' && p.force !== true;
}

export function supersedeGracefulStop(cmd: Cmd<'StopVm'>, state: VmState): VmEvent[] {
  const by = cmd.by ?? 'unknown';
  return cancelledEvent(
    state,
    { by, supersededBy: cmd.operationId },
    `cancelled: superseded by forced stop ${cmd.operationId}`,
  );
}
