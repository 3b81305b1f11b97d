import { BadRequestException } from '@nestjs/common';
import { errorBody } from './error-body.js';
import {
  INSTANT_HINT,
  parseIsoInstant,
  parsePointInTime,
  parseRevisionNumber,
  REVISION_HINT,
  type PointInTime,
} from './point-in-time.js';

/** OpenAPI descriptions of these parameters. */
export const AT_DOC =
  'ISO 8601 time with a zone: the state after every event recorded at or before that instant (404 before the first)';
export const REVISION_DOC = 'stream revision: the state after that event (404 past the latest); not with `at`';
export const POINT_DOC = 'a revision number (digits) or an ISO 8601 time with a zone';

/** Express gives a repeated query parameter as an array; anything but one string is refused. */
type QueryValue = string | string[] | object | undefined;

class FieldErrors {
  private readonly list: Array<{ field: string; errors: string[] }> = [];

  add(field: string, message: string): void {
    this.list.push({ field, errors: [`${field} ${message}`] });
  }

  /** One 400 naming every bad field. */
  throwIfAny(): void {
    if (this.list.length)
      throw new BadRequestException(errorBody(400, this.list.map((e) => e.errors[0]).join('; '), this.list));
  }
}

function single(errors: FieldErrors, field: string, raw: QueryValue): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') {
    errors.add(field, 'must be given once');
    return undefined;
  }
  return raw;
}

/** `?at=` or `?revision=` of GET /v1/vms/{id} and GET /v1/hosts/{id}: at most one of them. */
export function parseAsOf(q: { at?: QueryValue; revision?: QueryValue }): PointInTime | undefined {
  const errors = new FieldErrors();
  const atRaw = single(errors, 'at', q.at);
  const revRaw = single(errors, 'revision', q.revision);
  let point: PointInTime | undefined;
  if (atRaw !== undefined) {
    const at = parseIsoInstant(atRaw);
    if (at) point = { kind: 'time', at };
    else errors.add('at', INSTANT_HINT);
  }
  if (revRaw !== undefined) {
    const revision = parseRevisionNumber(revRaw);
    if (revision !== null) point = { kind: 'revision', revision };
    else errors.add('revision', REVISION_HINT);
  }
  if (atRaw !== undefined && revRaw !== undefined)
    errors.add('revision', 'cannot be combined with at: give one of them');
  errors.throwIfAny();
  return point;
}

export interface DiffRange {
  from?: PointInTime;
  to?: PointInTime;
}

/** `?from=&to=` of GET /v1/vms/{id}/diff: each a revision number or an ISO 8601 instant. */
export function parseDiffRange(q: { from?: QueryValue; to?: QueryValue }): DiffRange {
  const errors = new FieldErrors();
  const range: DiffRange = {};
  for (const field of ['from', 'to'] as const) {
    const raw = single(errors, field, q[field]);
    if (raw === undefined) continue;
    const point = parsePointInTime(raw);
    if (point) range[field] = point;
    else errors.add(field, `must be a revision number or an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z`);
  }
  const { from, to } = range;
  // Same kind: comparable before reading the stream. Mixed kinds are compared once resolved.
  if (from?.kind === 'revision' && to?.kind === 'revision' && from.revision > to.revision)
    errors.add('from', `must not be after to (revision ${from.revision} > ${to.revision})`);
  if (from?.kind === 'time' && to?.kind === 'time' && from.at.getTime() > to.at.getTime())
    errors.add('from', `must not be after to (${from.at.toISOString()} > ${to.at.toISOString()})`);
  errors.throwIfAny();
  return range;
}

/** A 400 naming one field, for checks that need the stream (a revision past the head, mixed-kind ranges). */
export function badField(field: string, message: string): BadRequestException {
  return new BadRequestException(errorBody(400, `${field} ${message}`, [{ field, errors: [`${field} ${message}`] }]));
}
