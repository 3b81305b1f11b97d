import { BadRequestException } from '@nestjs/common';
import { hostStream, vmStream } from '../../domain/streams.js';
import type { EventStore, ReadAllOptions, RecordedEvent } from '../../eventstore/event-store.port.js';
import { errorBody } from '../../http/error-body.js';

export interface EventFilterQuery {
  vmId?: string;
  hostId?: string;
  type?: string;
  principal?: string;
  correlationId?: string;
  since?: string;
  until?: string;
}

/** What the store applies (streams, types) and what is applied while scanning (principal, correlation, time). */
export interface EventFilter {
  streamIds?: string[];
  types?: string[];
  principal?: string;
  correlationId?: string;
  since?: number;
  until?: number;
}

const ID_RE = /^[A-Za-z0-9._:-]{1,200}$/;

/** Parses the filter query; every bad field is named in one 400. */
export function parseEventFilter(q: EventFilterQuery): EventFilter {
  const errors: Array<{ field: string; errors: string[] }> = [];
  const bad = (field: string, msg: string) => errors.push({ field, errors: [`${field} ${msg}`] });
  const f: EventFilter = {};
  const streams: string[] = [];
  if (q.vmId !== undefined) {
    if (!ID_RE.test(q.vmId)) bad('vmId', 'must be a VM id');
    else streams.push(vmStream(q.vmId));
  }
  if (q.hostId !== undefined) {
    if (!ID_RE.test(q.hostId)) bad('hostId', 'must be a host id');
    else streams.push(hostStream(q.hostId));
  }
  if (streams.length) f.streamIds = streams;
  if (q.type !== undefined) {
    const types = q.type
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (!types.length || types.some((t) => !/^[A-Za-z][A-Za-z0-9_.-]{0,99}$/.test(t)))
      bad('type', 'must be a comma-separated list of event types');
    else f.types = types;
  }
  if (q.principal !== undefined) {
    if (!q.principal || q.principal.length > 200) bad('principal', 'must be a principal id');
    else f.principal = q.principal;
  }
  if (q.correlationId !== undefined) {
    if (!ID_RE.test(q.correlationId)) bad('correlationId', 'must be an operation id');
    else f.correlationId = q.correlationId;
  }
  const instant = (field: 'since' | 'until', raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined;
    const t = Date.parse(raw);
    if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) || Number.isNaN(t)) {
      bad(field, 'must be an ISO 8601 time');
      return undefined;
    }
    return t;
  };
  const since = instant('since', q.since);
  const until = instant('until', q.until);
  if (since !== undefined) f.since = since;
  if (until !== undefined) f.until = until;
  if (since !== undefined && until !== undefined && since > until) bad('until', 'must not be before since');
  if (errors.length) {
    throw new BadRequestException(errorBody(400, errors.map((e) => e.errors[0]).join('; '), errors));
  }
  return f;
}

/** True when the scan needs to look at each event (the store cannot apply these). */
function needsScan(f: EventFilter): boolean {
  return !!(
    f.streamIds ||
    f.principal !== undefined ||
    f.correlationId !== undefined ||
    f.since !== undefined ||
    f.until !== undefined
  );
}

export function matches(f: EventFilter, e: RecordedEvent): boolean {
  if (f.streamIds && !f.streamIds.includes(e.streamId)) return false;
  if (f.types && !f.types.includes(e.type)) return false;
  if (f.principal !== undefined && e.metadata.principal !== f.principal) return false;
  if (f.correlationId !== undefined && e.metadata.correlationId !== f.correlationId) return false;
  if (f.since !== undefined || f.until !== undefined) {
    const at = Date.parse(e.metadata.at);
    if (Number.isNaN(at)) return false;
    if (f.since !== undefined && at < f.since) return false;
    if (f.until !== undefined && at > f.until) return false;
  }
  return true;
}

/** At most this many events are scanned for one page; past it a short page with a `next` cursor is returned. */
export const SCAN_BUDGET = 20000;

export interface FilteredPage {
  items: RecordedEvent[];
  /** Inclusive position to resume from, or null at the end of the log. */
  next: bigint | null;
}

/**
 * One page of the filtered log, scanning forward from `from` (inclusive).
 * `next` is always a position: that of the first match not returned, or one
 * past the last event scanned when the scan budget ran out, so pages never
 * skip or repeat an event.
 */
export async function readFilteredPage(
  store: EventStore,
  f: EventFilter,
  from: bigint | undefined,
  limit: number,
  budget = SCAN_BUDGET,
): Promise<FilteredPage> {
  const base: ReadAllOptions = {};
  if (f.streamIds) base.streamPrefixes = f.streamIds;
  if (f.types) base.types = f.types;
  let after = from !== undefined && from > 0n ? from - 1n : undefined;
  if (!needsScan(f)) {
    const events = await store.readAll({ ...base, ...(after !== undefined ? { after } : {}), maxCount: limit + 1 });
    const items = events.slice(0, limit);
    return { items, next: events.length > limit ? events[limit]!.position : null };
  }
  const items: RecordedEvent[] = [];
  let scanned = 0;
  const batch = Math.max(1, Math.min(budget, 1000, Math.max(100, limit * 4)));
  for (;;) {
    const page = await store.readAll({ ...base, ...(after !== undefined ? { after } : {}), maxCount: batch });
    if (page.length === 0) return { items, next: null };
    for (const e of page) {
      scanned++;
      if (matches(f, e)) {
        if (items.length === limit) return { items, next: e.position };
        items.push(e);
      }
      after = e.position;
    }
    if (page.length < batch) return { items, next: null };
    if (scanned >= budget) return { items, next: after! + 1n };
  }
}
