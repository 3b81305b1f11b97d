/**
 * Points in a stream's history as clients name them: a revision number or an
 * ISO 8601 instant. Pure (no Nest), so the CLI checks its options with the
 * same rules the server applies.
 */

export type PointInTime = { kind: 'revision'; revision: bigint } | { kind: 'time'; at: Date };

const REVISION_RE = /^\d{1,15}$/;
// A time of day needs a zone: "10:00" alone would be read in the server's local zone,
// and the same query would then mean different instants on different servers.
const INSTANT_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-](\d{2}):?(\d{2})))?$/;

export const INSTANT_HINT = 'must be an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z';
export const REVISION_HINT = 'must be a non-negative integer revision';

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** A strict ISO 8601 instant (calendar-checked: 2024-02-30 is refused, not rolled into March); null when invalid. */
export function parseIsoInstant(raw: string): Date | null {
  const m = INSTANT_RE.exec(raw);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return null;
  if (m[4] !== undefined) {
    if (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59) return null;
    if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return null;
  }
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function parseRevisionNumber(raw: string): bigint | null {
  return REVISION_RE.test(raw) ? BigInt(raw) : null;
}

/** A revision (all digits) or an instant (anything that starts like a date); null when it is neither. */
export function parsePointInTime(raw: string): PointInTime | null {
  const revision = parseRevisionNumber(raw);
  if (revision !== null) return { kind: 'revision', revision };
  const at = parseIsoInstant(raw);
  return at ? { kind: 'time', at } : null;
}

export function describePoint(p: PointInTime): string {
  return p.kind === 'revision' ? `revision ${p.revision}` : p.at.toISOString();
}

/**
 * How many of a stream's events (in revision order) make up its state at `p`:
 * those up to and including that revision, or those recorded at or before that
 * instant. A revision past the head counts every event; callers that must
 * refuse it compare with the last revision themselves.
 */
export function countAt(events: ReadonlyArray<{ revision: bigint; metadata: { at: string } }>, p: PointInTime): number {
  const t = p.kind === 'time' ? p.at.getTime() : 0;
  const cut = events.findIndex((e) =>
    p.kind === 'revision' ? e.revision > p.revision : Date.parse(e.metadata.at) > t,
  );
  return cut < 0 ? events.length : cut;
}
