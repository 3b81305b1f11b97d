import type { RecordedEvent } from '../eventstore/event-store.port.js';
import type { VmMigrationRequested } from '../domain/vm/vm.events.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { HandleResult } from './handle-command.js';
import { prepareJobId, type HostJobData } from './jobs.js';
import type { JobSink } from './ports.js';
import { tracePhase } from './phase-trace.js';

/**
 * A migration's first job, queued by the request that committed it together with the target's
 * reservation (request-with-reservation), right after that commit: the target starts preparing
 * without waiting for the saga runner to read the request back from the log (one saga pass off
 * the critical path). The job is the one the saga queues on VmMigrationRequested, field for
 * field, under the same id (prepareJobId): BullMQ keeps one of the two adds.
 *
 * Only after the commit, so the log has accepted the request and the reservation before any
 * host acts on them, and only while the VM still awaits this step. A cancel or fence after this
 * reaches the job as it reaches the saga's: the worker skips a cancelled operation's job, and a
 * migration's cancel is closed by its step's result (vm.cancel.ts).
 *
 * Returns whether a job was queued. Best effort for the caller: the saga queues it anyway.
 */
export async function queuePrepareIncoming(jobs: JobSink, result: HandleResult<VmState>): Promise<boolean> {
  const requested = result.events.find(isMigrationRequested);
  const { state } = result;
  if (!requested || !state.id || !state.spec) return false;
  const { operationId, targetHostId, sourceHostId, live } = requested.data;
  if (state.pending?.id !== operationId || state.pending.awaiting !== 'prepareIncoming') return false;
  const data: HostJobData = {
    vmId: state.id,
    operationId,
    step: 'prepareIncoming',
    args: { live, sourceHostId },
    spec: { id: state.id, ...state.spec },
    principal: requested.metadata.principal,
    // The event the saga's job is caused by: GET /why reads the same chain either way.
    causationId: requested.id,
  };
  await jobs.enqueueHostJob(targetHostId, prepareJobId(operationId), data);
  tracePhase(state.id, 'enqueued prepareIncoming');
  return true;
}

function isMigrationRequested(e: RecordedEvent): e is RecordedEvent & { data: VmMigrationRequested['data'] } {
  return e.type === 'VmMigrationRequested';
}
