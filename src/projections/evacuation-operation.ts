import type { RecordedEvent } from '../eventstore/event-store.port.js';
import type { HostEvacuationStarted } from '../domain/host/host.events.js';
import type { ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import { ENDED_STATUSES, type OperationView } from './read-model.types.js';

/**
 * The parent operation of an evacuation. Its children (migrations on the VMs'
 * streams) were appended before it, so a child may already be done when the
 * parent is applied; either way each finished child counts once: the parent
 * counts the children finished so far, and a child finishing later updates it.
 */
export async function applyEvacuationStarted(
  keys: ReadModelKeys,
  recorded: RecordedEvent,
  hostId: string,
  data: HostEvacuationStarted['data'],
  tx: ProjectionTx,
): Promise<void> {
  const at = recorded.metadata.at;
  let parent: OperationView = {
    id: data.operationId,
    kind: 'evacuate',
    vmId: null,
    hostId,
    status: 'running',
    error: null,
    principal: recorded.metadata.principal,
    createdAt: at,
    updatedAt: at,
    ...(recorded.metadata.reason ? { reason: recorded.metadata.reason } : {}),
    children: data.children.map((c) => c.operationId),
    progress: { step: 'migrating', done: data.refused.length, total: data.children.length + data.refused.length },
    result: { moved: [], notMoved: data.refused.map((r) => ({ vmId: r.vmId, reason: r.reason })) },
  };
  for (const c of data.children) {
    const child = await tx.get<OperationView>(keys.operation(c.operationId));
    if (!child) continue;
    const linked = { ...child, parentOperationId: data.operationId };
    tx.set(keys.operation(c.operationId), linked);
    if (ENDED_STATUSES.has(child.status)) parent = withChild(parent, linked, c.targetHostId, at);
  }
  tx.set(keys.operation(parent.id), finishIfDone(parent));
  const score = Number(recorded.position);
  tx.index(keys.operationIndex(), score, parent.id);
  tx.index(keys.operationsByPrincipal(recorded.metadata.principal), score, parent.id);
}

/** A child migration just finished: count it in its parent. */
export async function evacuationChildDone(
  keys: ReadModelKeys,
  child: OperationView,
  targetHostId: string,
  at: string,
  tx: ProjectionTx,
): Promise<void> {
  if (!child.parentOperationId) return;
  const parent = await tx.get<OperationView>(keys.operation(child.parentOperationId));
  if (!parent) return;
  tx.set(keys.operation(parent.id), finishIfDone(withChild(parent, child, targetHostId, at)));
}

function withChild(parent: OperationView, child: OperationView, targetHostId: string, at: string): OperationView {
  const result = parent.result ?? { moved: [], notMoved: [] };
  const vmId = child.vmId ?? '';
  const next =
    child.status === 'succeeded'
      ? { ...result, moved: [...result.moved, { vmId, targetHostId, operationId: child.id }] }
      : {
          ...result,
          notMoved: [...result.notMoved, { vmId, reason: child.error ?? child.status, operationId: child.id }],
        };
  const done = (parent.progress?.done ?? 0) + 1;
  return { ...parent, updatedAt: at, result: next, progress: { ...parent.progress, done } };
}

function finishIfDone(op: OperationView): OperationView {
  const { done = 0, total = 0 } = op.progress ?? {};
  if (done < total) return op;
  const stuck = op.result?.notMoved.length ?? 0;
  return {
    ...op,
    status: stuck === 0 ? 'succeeded' : 'failed',
    error: stuck === 0 ? null : `${stuck} of ${total} VMs could not move (see result.notMoved)`,
    progress: { ...op.progress, step: 'done' },
  };
}
