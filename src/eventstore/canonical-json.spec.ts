import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { canonicalJson } from './canonical-json.js';

/** The encoding as first written (entries, filter, sort by `<`, map, join): the hashes in every stored log. */
function reference(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('non-finite number in canonical JSON');
    return JSON.stringify(value);
  }
  if (typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => reference(v === undefined ? null : v)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`;
  }
  throw new TypeError(`cannot encode ${typeof value} in canonical JSON`);
}

/** A deterministic generator (no Math.random: a failure must repeat). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

// Keys that sort differently by code unit than by locale or by code point: case, digits, astral, accents.
const KEYS = ['a', 'B', 'b', '_', '10', '9', '', 'é', 'e\u0301', '\u{1F600}', '\uFFFF', 'aa', 'a a', '"q"', '\\'];

function randomValue(rnd: () => number, depth: number): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.35) {
    const leaves = [null, undefined, true, false, 0, -1.5, 1e21, 'x', 'é\n"', 12345678901234567890n];
    return leaves[Math.floor(rnd() * leaves.length)];
  }
  if (r < 0.55) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(rnd, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rnd() * 6); i > 0; i--)
    o[KEYS[Math.floor(rnd() * KEYS.length)]!] = randomValue(rnd, depth + 1);
  return o;
}

describe('canonicalJson', () => {
  test('encodes every value byte for byte as the first encoding did (the stored hashes depend on it)', () => {
    const rnd = lcg(14);
    for (let i = 0; i < 5000; i++) {
      const v = randomValue(rnd, 0);
      assert.equal(
        canonicalJson(v),
        reference(v),
        JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)),
      );
    }
  });

  test('keys in code-unit order, undefined members left out, undefined array items as null', () => {
    assert.equal(
      canonicalJson({ b: 1, a: undefined, B: [undefined, 2], '\u{1F600}': 'x', '\uFFFF': 0 }),
      '{"B":[null,2],"b":1,"\u{1F600}":"x","\uFFFF":0}',
    );
    assert.throws(() => canonicalJson({ a: Number.NaN }), /non-finite/);
  });
});
