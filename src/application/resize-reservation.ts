import type { Logger } from 'pino';
import { DomainError } from '../domain/domain-error.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { hostStream } from '../domain/streams.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { SagaAction } from '../sagas/saga.actions.js';
import { handleCommand, type CommandMeta } from './handle-command.js';
import type { AggregateLoader } from './load-aggregate.js';

/**
 * A live resize closed: the VM's reservation on its host becomes the size it really has. A replay
 * after the VM moved on (another resize in flight or done, a migration, a delete) leaves the host
 * as it is now; so does a VM that holds nothing there any more.
 */
export async function settleResizeReservation(
  aggregates: AggregateLoader,
  action: Extract<SagaAction, { type: 'resizeReservation' }>,
  current: VmState,
  meta: CommandMeta,
  log: Logger,
): Promise<void> {
  const later = current.pending?.kind === 'resize' && current.pending.id !== action.operationId;
  const same = current.spec?.vcpus === action.vcpus && current.spec.memoryMiB === action.memoryMiB;
  if (later || !same || current.hostId !== action.hostId || current.state === 'deleted') return;
  const { vmId, operationId, vcpus, memoryMiB } = action;
  try {
    await handleCommand(
      aggregates,
      hostDecider,
      hostStream(action.hostId),
      { type: 'ResizeReservation', vmId, operationId, vcpus, memoryMiB },
      meta,
    );
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    log.warn({ err, vmId, hostId: action.hostId }, 'resize: the reservation was not set to the VM size');
  }
}
