import { BadRequestException } from '@nestjs/common';
import { errorBody } from './error-body.js';

function bad(field: string, message: string): BadRequestException {
  return new BadRequestException(errorBody(400, `${field} ${message}`, [{ field, errors: [`${field} ${message}`] }]));
}

// An empty optional parameter (`?cursor=&limit=`, as form-built URLs send) means the default.

export function parseLimit(raw: string | undefined, field = 'limit', max = 1000, dflt = 100): number {
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > max)
    throw bad(field, `must be an integer from 1 to ${max}`);
  return Number(raw);
}

export function parseCursor(raw: string | undefined, field = 'cursor'): number {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,12}$/.test(raw)) throw bad(field, 'must be a cursor returned as "next"');
  return Number(raw);
}

export function parsePosition(raw: string | undefined, field: string): bigint | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,20}$/.test(raw)) throw bad(field, 'must be a non-negative integer position');
  return BigInt(raw);
}

export function parseRevision(raw: string, field: string): bigint {
  if (!/^\d{1,15}$/.test(raw)) throw bad(field, 'must be a non-negative integer revision');
  return BigInt(raw);
}

export function parseWaitMs(raw: string | undefined, max = 60000): number {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) > max) throw bad('waitMs', `must be an integer from 0 to ${max}`);
  return Number(raw);
}

/** If-Match carries the ETag we gave out: "<revision>" (weak or strong). */
export function parseIfMatch(raw: string): bigint {
  const m = /^(?:W\/)?"?(\d{1,15})"?$/.exec(raw.trim());
  if (!m) throw bad('If-Match', 'must be an ETag returned by GET (a quoted revision)');
  return BigInt(m[1]!);
}
