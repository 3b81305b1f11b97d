import type { JSONEventData } from '@kurrent/kurrentdb-client';
import type { EventMetadata, RecordedEvent } from '../event-store.port.js';
import { toEventData, toEventMetadata } from '../record-codec.js';

/** Streams the adapter owns for bookkeeping; `$` keeps them out of user reads like every system stream. */
export const CHECKPOINT_STREAM_PREFIX = '$virtledger-checkpoint-';

export function checkpointStream(name: string): string {
  return `${CHECKPOINT_STREAM_PREFIX}${name}`;
}

/** System streams ($stats, $projections, links, our checkpoints) are never part of the virtledger log. */
export function isUserStream(streamId: string): boolean {
  return !streamId.startsWith('$');
}

/** The fields of a Kurrent recorded event the adapter reads. */
export interface KurrentRecord {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  data: unknown;
  metadata?: unknown;
  position?: { commit: bigint; prepare: bigint };
}

/**
 * The port's position is the event's commit position. Every append made through the
 * gRPC API is an implicit transaction whose prepare records are each marked committed,
 * and for those the server reports commit == prepare == the record's own log position:
 * unique per event, strictly increasing in $all order, and resumable as
 * {commit: p, prepare: p}. (Only legacy TCP explicit transactions share one commit
 * position between several events; this adapter never writes those.)
 */
export function positionOf(record: KurrentRecord): bigint {
  if (!record.position) {
    throw new Error(`KurrentDB returned event ${record.id} without a log position (server older than 22.6?)`);
  }
  return record.position.commit;
}

export function toRecordedEvent(record: KurrentRecord): RecordedEvent {
  if (!record.isJson) throw new TypeError(`KurrentDB event ${record.id} in ${record.streamId} is not JSON`);
  return {
    id: record.id,
    streamId: record.streamId,
    revision: record.revision,
    position: positionOf(record),
    type: record.type,
    data: toEventData(record.data, record.id),
    metadata: toEventMetadata(record.metadata, record.id),
  };
}

export function toJsonEvent(e: {
  id: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}): JSONEventData {
  return { id: e.id, contentType: 'application/json', type: e.type, data: e.data, metadata: { ...e.metadata } };
}
