import type { RecordedEvent } from './event-store.port.js';

/** An event exactly as stored (the chain is over the raw data), in the shape exports and proofs carry. */
export interface ExportRecord {
  position: string;
  streamId: string;
  revision: number;
  id: string;
  type: string;
  data: RecordedEvent['data'];
  metadata: RecordedEvent['metadata'];
}

export function exportRecord(e: RecordedEvent): ExportRecord {
  return {
    position: e.position.toString(),
    streamId: e.streamId,
    revision: Number(e.revision),
    id: e.id,
    type: e.type,
    data: e.data,
    metadata: e.metadata,
  };
}
