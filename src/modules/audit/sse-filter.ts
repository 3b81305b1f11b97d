import type { EventStore, RecordedEvent } from '../../eventstore/event-store.port.js';
import { parseExact, type RawQuery } from '../../http/list-query.js';
import { parsePosition } from '../../http/query.js';
import { matches, parseEventFilter } from './event-filter.js';

/** Which events one live feed sends: `?vmId=` and `?type=` (a comma list), as on GET /v1/events. */
export function parseSseFilter(q: { vmId?: RawQuery; type?: RawQuery }): ((e: RecordedEvent) => boolean) | undefined {
  // Empty means absent; a repeated parameter is a 400 (not a list glued together).
  const vmId = parseExact(q.vmId, 'vmId');
  const type = parseExact(q.type, 'type', 2000);
  if (vmId === undefined && type === undefined) return undefined;
  const f = parseEventFilter({ ...(vmId !== undefined ? { vmId } : {}), ...(type !== undefined ? { type } : {}) });
  return (e) => matches(f, e);
}

/**
 * Where the feed starts (exclusive): after Last-Event-ID when resuming; after the
 * log's head for `?fromPosition=end` (only events appended from now on); before
 * `fromPosition` otherwise; from the start of the log when neither is given.
 */
export async function sseStartAfter(
  store: EventStore,
  lastEventId: string | undefined,
  fromRaw: string | undefined,
): Promise<bigint | undefined> {
  const last = parsePosition(lastEventId, 'Last-Event-ID');
  const from = fromRaw === 'end' ? 'end' : parsePosition(fromRaw, 'fromPosition');
  if (last !== undefined) return last;
  if (from === 'end') return store.headPosition();
  return from !== undefined && from > 0n ? from - 1n : undefined;
}
