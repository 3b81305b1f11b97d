import type { NewEvent } from './event-store.port.js';

/**
 * Validates a batch and returns it in the exact JSON form the store will hand back on
 * read. The hash chain is computed over this form, so a Date, an undefined field or a
 * bigint in the caller's object cannot make the stored event fail verification later:
 * what is hashed is byte-for-byte what is stored.
 */
export function normalizeNewEvents(events: NewEvent[]): NewEvent[] {
  return newEventsAsJson(events).map(parseNewEvent);
}

/**
 * A batch validated as normalizeNewEvents does, its data and metadata as JSON text: what the
 * SQLite adapter posts to its writer thread, which parses it there (parseNewEvent) into
 * exactly the events normalizeNewEvents would have returned. Strings cross the thread
 * boundary at the cost of a copy; the parse no longer runs on the event loop.
 */
export interface NewEventJson {
  id: string;
  type: string;
  data: string;
  metadata: string;
}

export function newEventsAsJson(events: NewEvent[]): NewEventJson[] {
  if (events.length === 0) throw new RangeError('append needs at least one event');
  const ids = new Set<string>();
  return events.map((e) => {
    if (typeof e.id !== 'string' || e.id.length === 0) throw new TypeError('every event needs a non-empty string id');
    if (ids.has(e.id)) throw new TypeError(`event id ${e.id} appears twice in one append`);
    ids.add(e.id);
    if (typeof e.type !== 'string' || e.type.length === 0) throw new TypeError(`event ${e.id} needs a type`);
    return { id: e.id, type: e.type, data: toJson(e.data, e.id), metadata: toJson(e.metadata, e.id) };
  });
}

export function parseNewEvent(e: NewEventJson): NewEvent {
  return {
    id: e.id,
    type: e.type,
    data: JSON.parse(e.data) as NewEvent['data'],
    metadata: JSON.parse(e.metadata) as NewEvent['metadata'],
  };
}

function toJson(value: unknown, id: string): string {
  // bigint is written as a decimal string, the same encoding canonicalJson hashes it with.
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) as
    string | undefined;
  // undefined (or a function) has no JSON: refused here, before anything is posted.
  if (text === undefined) throw new TypeError(`event ${id}: its data and metadata must be JSON values`);
  return text;
}
