import type { RecordedEvent } from '../../eventstore/event-store.port.js';

/** One NDJSON line of an audit export: the event exactly as stored (the chain is over the raw data). */
export function exportLine(e: RecordedEvent): string {
  return JSON.stringify({
    position: e.position.toString(),
    streamId: e.streamId,
    revision: Number(e.revision),
    id: e.id,
    type: e.type,
    data: e.data,
    metadata: e.metadata,
  });
}
