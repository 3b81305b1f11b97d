import type { EventMetadata, RecordedEvent } from '../../eventstore/event-store.port.js';
import { upcast } from '../../domain/upcasters.js';

/** The v1 event shape; position is a decimal string (positions may exceed 2^53). */
export interface EventView {
  position: string;
  streamId: string;
  revision: number;
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

export function toEventView(e: RecordedEvent): EventView {
  const u = upcast(e);
  return {
    position: e.position.toString(),
    streamId: e.streamId,
    revision: Number(e.revision),
    id: e.id,
    type: e.type,
    data: u.data,
    metadata: e.metadata,
  };
}
