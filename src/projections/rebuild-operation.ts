import type { RecordedEvent } from '../eventstore/event-store.port.js';
import type { ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { OperationView } from './read-model.types.js';
import type { RebuildEvent } from './rebuild.events.js';

/**
 * The operation view of a rebuild, folded from its events like every other
 * operation (so a replay check covers it too). Live progress is not here: it
 * changes per batch and is kept beside the view, never in the log.
 */
export async function applyRebuildEvent(
  keys: ReadModelKeys,
  recorded: RecordedEvent,
  event: RebuildEvent,
  tx: ProjectionTx,
): Promise<void> {
  const at = recorded.metadata.at;
  const id = event.data.operationId;
  if (event.type === 'ProjectionRebuildStarted') {
    const op: OperationView = {
      id,
      kind: 'rebuild',
      vmId: null,
      projection: event.data.projection,
      status: 'running',
      error: null,
      principal: recorded.metadata.principal,
      createdAt: at,
      updatedAt: at,
      ...(recorded.metadata.reason ? { reason: recorded.metadata.reason } : {}),
      progress: { step: 'replaying', done: 0 },
    };
    tx.set(keys.operation(id), op);
    const score = Number(recorded.position);
    tx.index(keys.operationIndex(), score, id);
    tx.index(keys.operationsByPrincipal(recorded.metadata.principal), score, id);
    return;
  }
  const op = await tx.get<OperationView>(keys.operation(id));
  if (!op) return;
  if (event.type === 'ProjectionRebuildSucceeded') {
    const n = event.data.events;
    tx.set(keys.operation(id), {
      ...op,
      status: 'succeeded',
      updatedAt: at,
      progress: { step: 'done', done: n, total: n, percent: 100 },
    } satisfies OperationView);
  } else {
    tx.set(keys.operation(id), {
      ...op,
      status: 'failed',
      error: event.data.reason,
      updatedAt: at,
      progress: { ...op.progress, step: 'failed' },
    } satisfies OperationView);
  }
}
