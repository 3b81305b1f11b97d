import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { REQUEST_EVENT_KIND, type VmEvent } from '../domain/vm/vm.events.js';
import type { PendingOperation } from '../domain/vm/vm.state.js';
import type { OperationView } from './read-model.types.js';

/**
 * A VM's operation records: a request event opens one, the VM's pending operation
 * closing or moving on updates it. Pure functions over one event, so the vms
 * projection reads an operation only for the events that change it (a replay
 * folds hundreds of thousands). Records keep their fields in one order whatever
 * path built them: the live read model and a rebuild's must be the same bytes.
 */

type Pending = PendingOperation | null;

/** The operation a request event opens (undefined for any other event). */
export function openedOperation(
  vmId: string,
  project: string,
  event: VmEvent,
  e: RecordedEvent,
  after: Pending,
): OperationView | undefined {
  // A restart's start continues the operation VmRestartScheduled opened (same id): no new one.
  const continues = event.type === 'VmStartRequested' && event.data.restart !== undefined;
  // A cold resize is its own operation, done when recorded; a live one closes what VmResizeStarted opened.
  const cold = event.type === 'VmResized' && !event.data.live;
  const kind = cold ? 'resize' : continues ? undefined : REQUEST_EVENT_KIND[event.type];
  if (!kind) return undefined;
  const id = (event.data as { operationId: string }).operationId;
  const at = e.metadata.at;
  const op: OperationView = {
    id,
    kind,
    vmId,
    project,
    // A cold resize has no worker step: recorded is done.
    status: cold ? 'succeeded' : 'pending',
    error: null,
    principal: e.metadata.principal,
    createdAt: at,
    updatedAt: at,
  };
  if (e.metadata.reason) op.reason = e.metadata.reason;
  if (event.type === 'VmVolumeAttachRequested') op.volumeId = event.data.volume.volumeId;
  else if (event.type === 'VmVolumeDetachRequested') op.volumeId = event.data.volumeId;
  if (cold) op.progress = { step: 'done', percent: 100 };
  // Scheduled, not begun: it waits for its time (the event's notBefore).
  else if (event.type === 'VmRestartScheduled') op.progress = { step: 'scheduled' };
  else if (after?.id === id) op.progress = { step: after.awaiting };
  return op;
}

/** Whether an event that opens nothing changes operation `opId` (true: read it and call advancedOperation). */
export function touchesOperation(event: VmEvent, opId: string, before: Pending, after: Pending): boolean {
  switch (event.type) {
    case 'VmHealingCancelled':
    case 'VmOperationFailed':
    case 'VmOperationCancelRequested':
    case 'VmOperationRunning':
    case 'VmMigrationProgressed':
      return true;
    default:
      return (before?.id === opId && after?.id !== opId) || (after?.id === opId && before?.awaiting !== after.awaiting);
  }
}

/** The operation after an event that does not open one; undefined when the event leaves it as it was. */
export function advancedOperation(
  op: OperationView,
  event: VmEvent,
  opId: string,
  before: Pending,
  after: Pending,
  at: string,
): OperationView | undefined {
  switch (event.type) {
    case 'VmHealingCancelled': {
      const { by, reason } = event.data;
      return { ...op, updatedAt: at, status: 'cancelled', error: reason, cancelled: { by, reason } };
    }
    case 'VmOperationFailed':
      // A cancelled operation is closed by the same event as a failed one, marked with who cancelled it.
      return event.data.cancelled
        ? { ...op, updatedAt: at, status: 'cancelled', error: event.data.reason, cancelled: event.data.cancelled }
        : { ...op, updatedAt: at, status: 'failed', error: event.data.reason };
    case 'VmOperationCancelRequested':
      return { ...op, updatedAt: at, cancelRequested: event.data.cancelled };
    case 'VmOperationRunning':
      return op.status === 'pending' ? { ...op, updatedAt: at, status: 'running' } : { ...op, updatedAt: at };
    case 'VmMigrationProgressed': {
      const { operationId: _id, ...progress } = event.data;
      return {
        ...op,
        updatedAt: at,
        status: op.status === 'pending' ? 'running' : op.status,
        progress: { ...op.progress, ...progress },
      };
    }
    default:
      break;
  }
  if (before?.id === opId && after?.id !== opId)
    return { ...op, updatedAt: at, status: 'succeeded', progress: { ...op.progress, step: 'done', percent: 100 } };
  if (after?.id === opId && before?.awaiting !== after.awaiting)
    return {
      ...op,
      updatedAt: at,
      status: op.status === 'pending' ? 'running' : op.status,
      progress: { ...op.progress, step: after.awaiting },
    };
  return undefined;
}
