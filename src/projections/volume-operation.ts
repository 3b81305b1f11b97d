import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { VOLUME_REQUEST_KIND, type VolumeEvent } from '../domain/volume/volume.events.js';
import type { ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { OperationView } from './read-model.types.js';

/**
 * A volume's own operations (create, resize, delete), beside the VMs' in the same indexes:
 * the request opens one, the host's result closes it. Attach and detach are the VM's operations.
 */
export async function applyVolumeOperation(
  keys: ReadModelKeys,
  volumeId: string,
  project: string,
  e: RecordedEvent,
  event: VolumeEvent,
  tx: ProjectionTx,
): Promise<void> {
  const at = e.metadata.at;
  const kind = VOLUME_REQUEST_KIND[event.type];
  if (kind) {
    const id = (event.data as { operationId: string }).operationId;
    const op: OperationView = {
      id,
      kind,
      vmId: null,
      volumeId,
      project,
      status: 'pending',
      error: null,
      principal: e.metadata.principal,
      createdAt: at,
      updatedAt: at,
      ...(e.metadata.reason ? { reason: e.metadata.reason } : {}),
      progress: { step: kind },
    };
    tx.set(keys.operation(id), op);
    const score = Number(e.position);
    tx.index(keys.operationIndex(), score, id);
    tx.index(keys.operationsByPrincipal(e.metadata.principal), score, id);
    return;
  }
  const closes =
    event.type === 'VolumeCreated' ||
    event.type === 'VolumeResized' ||
    event.type === 'VolumeDeleted' ||
    event.type === 'VolumeOperationFailed';
  if (!closes) return;
  const op = await tx.get<OperationView>(keys.operation(event.data.operationId));
  if (!op) return;
  const next: OperationView =
    event.type === 'VolumeOperationFailed'
      ? {
          ...op,
          updatedAt: at,
          status: 'failed',
          error: event.data.reason,
          progress: { ...op.progress, step: 'failed' },
        }
      : { ...op, updatedAt: at, status: 'succeeded', progress: { ...op.progress, step: 'done', percent: 100 } };
  tx.set(keys.operation(op.id), next);
}
