/**
 * Canonical JSON: object keys sorted, no whitespace, bigint as decimal string.
 * The hash chain is computed over this form so that any adapter, and an offline
 * verifier reading an NDJSON export, computes byte-identical input.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite number in canonical JSON');
    return JSON.stringify(value);
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object') {
    // One sorted key array and one string, not entries, a filtered copy, pairs and a mapped copy per
    // object: every event's hash (writer thread) and every seal (main thread) encode through here.
    // The default sort orders by UTF-16 code units, as `<` does; keys are unique, so order is total.
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    let out = '{';
    for (const k of keys) {
      const v = obj[k];
      if (v === undefined) continue;
      if (out.length > 1) out += ',';
      out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
    }
    return `${out}}`;
  }
  throw new TypeError(`cannot encode ${typeof value} in canonical JSON`);
}
