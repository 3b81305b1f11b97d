import type { RecordedEvent } from '../eventstore/event-store.port.js';
import type { ProjectionTx } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import type { ProjectRecord } from './read-model.types.js';

/**
 * Project records for GET /v1/projects: name and quotas. Admissions are not kept
 * here (usage comes from the VMs); `default` has a record once it is changed.
 */
export async function applyProjectEvent(keys: ReadModelKeys, e: RecordedEvent, tx: ProjectionTx): Promise<void> {
  if (e.type !== 'ProjectCreated' && e.type !== 'ProjectQuotasChanged') return;
  const data = e.data as { name: string; quotas: ProjectRecord['quotas'] };
  const prev = await tx.get<ProjectRecord>(keys.project(data.name));
  const at = e.metadata.at;
  tx.set(keys.project(data.name), {
    name: data.name,
    quotas: data.quotas,
    createdAt: prev?.createdAt ?? at,
    updatedAt: at,
  } satisfies ProjectRecord);
  if (!prev) tx.index(keys.projectIndex(), Number(e.position), data.name);
}
