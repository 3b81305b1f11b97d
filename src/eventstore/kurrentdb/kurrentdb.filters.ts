import type { ReadAllOptions } from '../event-store.port.js';
import type { KurrentFilter } from './kurrentdb.client.js';

/**
 * Server-side $all filters, built as the plain objects the client's streamNameFilter()
 * / eventTypeFilter() return (no runtime import: the client loads lazily). The server
 * accepts one filter per read, so the most selective one the port's options allow is
 * sent and the store still checks the rest (and the system-stream rule) on what comes
 * back.
 *
 * Not excludeSystemEvents(): that filters on event *type* `$…`, and the adapter's own
 * checkpoint streams (`$virtledger-checkpoint-…`) hold events of an ordinary type.
 */
export const USER_STREAMS: KurrentFilter = { filterOn: 'streamName', regex: '^[^$]', checkpointInterval: 1 };

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function allFilter(options: Pick<ReadAllOptions, 'streamPrefixes' | 'types'>): KurrentFilter {
  if (options.types?.length) {
    const exact = options.types.map(escapeRegex).join('|');
    return { filterOn: 'eventType', regex: `^(?:${exact})$`, checkpointInterval: 1 };
  }
  // A prefix naming a system stream would let system streams through; the store's own check drops them.
  if (options.streamPrefixes?.length) {
    return { filterOn: 'streamName', prefixes: [...options.streamPrefixes], checkpointInterval: 1 };
  }
  return USER_STREAMS;
}
