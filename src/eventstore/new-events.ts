import type { NewEvent } from './event-store.port.js';

/**
 * Validates a batch and returns it in the exact JSON form the store will hand back on
 * read. The hash chain is computed over this form, so a Date, an undefined field or a
 * bigint in the caller's object cannot make the stored event fail verification later:
 * what is hashed is byte-for-byte what is stored.
 */
export function normalizeNewEvents(events: NewEvent[]): NewEvent[] {
  if (events.length === 0) throw new RangeError('append needs at least one event');
  const ids = new Set<string>();
  return events.map((e) => {
    if (typeof e.id !== 'string' || e.id.length === 0) throw new TypeError('every event needs a non-empty string id');
    if (ids.has(e.id)) throw new TypeError(`event id ${e.id} appears twice in one append`);
    ids.add(e.id);
    if (typeof e.type !== 'string' || e.type.length === 0) throw new TypeError(`event ${e.id} needs a type`);
    return { id: e.id, type: e.type, data: jsonRoundTrip(e.data), metadata: jsonRoundTrip(e.metadata) };
  });
}

function jsonRoundTrip<T>(value: T): T {
  // bigint is written as a decimal string, the same encoding canonicalJson hashes it with.
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  return JSON.parse(text) as T;
}
