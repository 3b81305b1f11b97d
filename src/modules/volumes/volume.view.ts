import type { VolumeStatus } from '../../domain/volume/volume.state.js';
import type { VolumeRecord } from '../../projections/read-model.types.js';

/** The v1 volume shape (fields may be added, never renamed). */
export interface VolumeView {
  id: string;
  name: string;
  project: string;
  sizeGiB: number;
  hostId: string | null;
  status: VolumeStatus;
  /** The VM holding it, or null. */
  attachedTo: string | null;
  pendingOperation: { id: string; kind: string } | null;
  revision: number;
  createdAt: string;
  updatedAt: string;
}

export function toVolumeView(rec: VolumeRecord): VolumeView {
  const s = rec.state;
  return {
    id: s.id ?? '',
    name: s.name,
    project: s.project,
    sizeGiB: s.sizeGiB,
    hostId: s.hostId,
    status: s.status,
    attachedTo: s.attachedTo,
    pendingOperation: s.pending ? { id: s.pending.id, kind: s.pending.kind } : null,
    revision: Number(rec.revision),
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
  };
}
