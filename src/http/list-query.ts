import { BadRequestException } from '@nestjs/common';
import { errorBody } from './error-body.js';

/** Express gives a repeated parameter as an array and `a[b]=` as an object: only one string is a value. */
export type RawQuery = string | string[] | object | undefined;

function bad(field: string, message: string): BadRequestException {
  return new BadRequestException(errorBody(400, `${field} ${message}`, [{ field, errors: [`${field} ${message}`] }]));
}

function single(raw: RawQuery, field: string): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw bad(field, 'must be given once');
  return raw;
}

/** `?status=running,failed`: each value one of `allowed`; the 400 lists them. */
export function parseOneOf<T extends string>(raw: RawQuery, field: string, allowed: readonly T[]): T[] | undefined {
  const s = single(raw, field);
  if (s === undefined) return undefined;
  const values = s.split(',').map((v) => v.trim());
  const wrong = values.filter((v) => !(allowed as readonly string[]).includes(v));
  if (wrong.length)
    throw bad(field, `must be one or more of ${allowed.join(', ')} (comma-separated), got ${JSON.stringify(wrong[0])}`);
  return values as T[];
}

export function parseBoolean(raw: RawQuery, field: string): boolean | undefined {
  const s = single(raw, field);
  if (s === undefined) return undefined;
  if (s !== 'true' && s !== 'false') throw bad(field, `must be true or false, got ${JSON.stringify(s)}`);
  return s === 'true';
}

/** An id or name to match exactly: one value of printable characters. */
export function parseExact(raw: RawQuery, field: string, max = 200): string | undefined {
  const s = single(raw, field);
  if (s === undefined) return undefined;
  if (s.length > max || [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
    throw bad(field, `must be at most ${max} printable characters`);
  return s;
}
