import type { RecordedEvent } from '../../eventstore/event-store.port.js';
import { exportRecord } from '../../eventstore/export-record.js';

/** One NDJSON line of an audit export: the event exactly as stored (the chain is over the raw data). */
export function exportLine(e: RecordedEvent): string {
  return JSON.stringify(exportRecord(e));
}
