/**
 * Hostile values for the fuzzer, and a JSON builder that can say what
 * JSON.stringify cannot: own `__proto__` keys and number tokens such as 1e999.
 */
import fc from 'fast-check';

export type JsonNode =
  | null
  | boolean
  | number
  | string
  | JsonNode[]
  | { t: 'raw'; text: string }
  | { t: 'obj'; entries: Array<[string, JsonNode]> };

export function obj(entries: Array<[string, JsonNode]>): JsonNode {
  return { t: 'obj', entries };
}

export function toJson(n: JsonNode): string {
  if (n === null || typeof n === 'boolean') return String(n);
  if (typeof n === 'number') return Number.isFinite(n) ? JSON.stringify(n) : 'null';
  if (typeof n === 'string') return JSON.stringify(n);
  if (Array.isArray(n)) return `[${n.map(toJson).join(',')}]`;
  if (n.t === 'raw') return n.text;
  return `{${n.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(',')}}`;
}

/** A plain JSON value (from fc.jsonValue) as a node, own `__proto__` keys kept. */
export function fromValue(v: unknown): JsonNode {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(fromValue);
  if (typeof v === 'object') return obj(Object.keys(v).map((k) => [k, fromValue((v as Record<string, unknown>)[k])]));
  return null;
}

/** Where the fuzzer aims its traversal: every such string carries `marker`, so a file it creates can be found. */
export interface Target {
  marker: string;
  /** An absolute directory outside the app's data dir (a sibling of it). */
  outside: string;
}

export function traversalStrings({ marker: m, outside: o }: Target): string[] {
  return [
    `../${m}`,
    `../../${m}`,
    `../../../../../../..${o}/${m}`,
    `${o}/${m}`,
    `${o}/${m}/../../${m}`,
    `..\\..\\${m}`,
    `a/../../${m}`,
    `%2e%2e%2f${m}`,
    `..%2f..%2f${m}`,
    `%252e%252e%252f${m}`,
    `${m}\u0000.qcow2`,
    `${o}/${m}\u0000`,
    `kernel:${o}/${m}`,
    `kernel:../${m}`,
    `file://${o}/${m}`,
    `$(touch ${o}/${m})`,
    '`touch ' + o + '/' + m + '`',
    `x; touch ${o}/${m}`,
    `x | touch ${o}/${m}`,
    `x && touch ${o}/${m}`,
    `-o${m}`,
    `${m},format=raw`,
    `x,file=${o}/${m}`,
    `${m}\ntouch ${o}/${m}`,
  ];
}

export const WEIRD_STRINGS = [
  '',
  ' ',
  '.',
  '..',
  '-',
  '--help',
  'a'.repeat(63),
  'a'.repeat(64),
  'a'.repeat(501),
  'a'.repeat(10000),
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '\u0000',
  '🙂💥',
  'é',
  'e\u0301',
  '\u202eevil',
  '\ufeffbom',
  'ＡＢＣ',
  '\ud800',
  'null',
  'NaN',
  'Infinity',
  '1e999',
  '-1',
  '0x10',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '%s%s%n',
  '{{7*7}}',
  '${7*7}',
  'CON',
  'simulated://?latencyMs=1e999',
  'simulated://?seed=__proto__',
  'qemu:///system?storage=relative',
];

/** Number tokens sent as written: JSON.parse turns 1e999 into Infinity. */
export const NUMBER_TOKENS = [
  '1e999',
  '-1e999',
  '1e308',
  '-1e308',
  '-0',
  '0',
  '0.5',
  '1.0000000001',
  '-1',
  '9007199254740993',
  '1e21',
  '123456789012345678901234567890',
  '4294967296',
  '2147483648',
  '1E2',
  '5e-324',
];

export function hostileString(target: Target): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...traversalStrings(target)) },
    { weight: 3, arbitrary: fc.constantFrom(...WEIRD_STRINGS) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 3000 }) },
  );
}

const POLLUTED: JsonNode = obj([
  ['polluted', 'yes'],
  ['isAdmin', true],
]);

/** Objects that pollute a prototype when merged carelessly. */
export const POLLUTERS: Array<[string, JsonNode]> = [
  ['__proto__', POLLUTED],
  ['constructor', obj([['prototype', POLLUTED]])],
  ['prototype', POLLUTED],
  ['__proto__', obj([['__proto__', POLLUTED]])],
];

export function hostileNode(target: Target): fc.Arbitrary<JsonNode> {
  const leaf: fc.Arbitrary<JsonNode> = fc.oneof(
    { weight: 4, arbitrary: hostileString(target) },
    { weight: 3, arbitrary: fc.constantFrom(...NUMBER_TOKENS).map((text): JsonNode => ({ t: 'raw', text })) },
    { weight: 1, arbitrary: fc.integer() },
    { weight: 1, arbitrary: fc.double() },
    { weight: 1, arbitrary: fc.constantFrom<JsonNode>(null, true, false) },
  );
  return fc.oneof(
    { weight: 6, arbitrary: leaf },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map(fromValue) },
    { weight: 1, arbitrary: fc.array(leaf, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constantFrom(...POLLUTERS).map(([k, v]) => obj([[k, v]])) },
  );
}

/** Header values must be latin-1 without control characters, or Node refuses to send them. */
export function headerSafe(s: string): string {
  return s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}
