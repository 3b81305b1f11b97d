import type { StreamAppend } from './event-store.port.js';

/**
 * The shape every adapter's appendMany refuses before touching storage: an empty set, a stream
 * named twice (its second part would have to expect the first part's revision: one stream's
 * events go in one part), or an event id in two parts (stored ids are unique across streams).
 */
export function checkStreamAppends(appends: readonly StreamAppend[]): void {
  if (appends.length === 0) throw new RangeError('appendMany needs at least one stream');
  const streams = new Set<string>();
  const ids = new Set<string>();
  for (const a of appends) {
    if (streams.has(a.streamId)) throw new TypeError(`stream ${a.streamId} appears twice in one appendMany`);
    streams.add(a.streamId);
    for (const e of a.events) {
      if (ids.has(e.id)) throw new TypeError(`event id ${e.id} appears twice in one appendMany`);
      ids.add(e.id);
    }
  }
}
