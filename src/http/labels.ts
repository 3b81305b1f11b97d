import { badField } from './as-of.query.js';

const KEY = /^[a-z0-9][a-z0-9._/-]{0,62}$/;
const VALUE = /^[A-Za-z0-9._-]{0,63}$/;

/** Host labels are placement constraints, kept in the log forever: small, plain, and checked by field. */
export function checkLabels(labels: unknown, field = 'labels'): Record<string, string> | undefined {
  if (labels === undefined) return undefined;
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels))
    throw badField(field, 'must be an object');
  const entries = Object.entries(labels as Record<string, unknown>);
  if (entries.length > 32) throw badField(field, 'must have at most 32 entries');
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!KEY.test(k)) throw badField(`${field}.${k.slice(0, 64)}`, 'key must match [a-z0-9][a-z0-9._/-]{0,62}');
    if (typeof v !== 'string' || !VALUE.test(v)) {
      throw badField(`${field}.${k}`, 'value must be a string of up to 63 characters [A-Za-z0-9._-]');
    }
    out[k] = v;
  }
  return out;
}
