/**
 * JSON.parse turns 1e999 into Infinity, which no field accepts and which canonical
 * JSON (idempotency hashes, the hash chain) cannot encode: refuse it while parsing,
 * so the body parser answers 400 before any handler or interceptor sees it.
 */
export function rejectNonFinite(key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new SyntaxError(`${key === '' ? 'the body' : `"${key}"`} is a number out of range`);
  }
  return value;
}
