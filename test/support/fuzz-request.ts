/** fast-check arbitraries of whole HTTP requests against one route of the app. */
import fc from 'fast-check';
import type { RawRequest } from './fuzz-http.js';
import type { FuzzRoute, JsonSchema } from './fuzz-routes.js';
import {
  headerSafe,
  hostileNode,
  hostileString,
  NUMBER_TOKENS,
  obj,
  POLLUTERS,
  toJson,
  type JsonNode,
  type Target,
} from './fuzz-values.js';

export interface FuzzContext extends Target {
  tokens: Record<'admin' | 'operator' | 'auditor' | 'viewer', string>;
  /** Ids that exist, so some requests reach the handlers past the 404s. */
  ids: { vm: string[]; host: string[]; operation: string[]; snapshot: string[]; network: string[] };
}

export interface FuzzRequest extends RawRequest {
  /** Route template, for the histogram. */
  route: string;
  /** True when the request was built to be valid (the others may still be). */
  intended: 'valid' | 'hostile';
}

/** Null most of the time (1 in `odds`+1 draws is a value). */
function rarely<T>(arb: fc.Arbitrary<T>, odds: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: odds, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

/** Values that must stay small so a fuzz run never long-polls. */
const CLAMPED: Record<string, number> = { waitMs: 20 };

/** pct that never throws (lone surrogates go as U+FFFD, as a browser would send them). */
function pct(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) =>
      /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) && b < 0x80
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

/** Percent-encodes only what an HTTP request line cannot carry, so `../` and `/` go as they are. */
function looseEncode(s: string): string {
  return Array.from(Buffer.from(s, 'utf8'))
    .map((b) =>
      b > 0x20 && b < 0x7f && b !== 0x23 && b !== 0x3f ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`,
    )
    .join('');
}

function pathValue(name: string, ctx: FuzzContext, template: string): fc.Arbitrary<string> {
  // The segment before the parameter says what kind of id it is: /v1/vms/{id} takes a VM id.
  const kind = template.split('/').at(template.split('/').indexOf(`{${name}}`) - 1);
  // /v1/projects/{name} names a project; every other {name} is a snapshot's.
  const byKind: Record<string, string[]> = {
    vms: ctx.ids.vm,
    hosts: ctx.ids.host,
    operations: ctx.ids.operation,
    networks: ctx.ids.network,
    projects: ['default', 'fuzz'],
  };
  const known =
    name === 'name' && kind !== 'projects'
      ? ctx.ids.snapshot
      : (byKind[kind ?? ''] ?? [...ctx.ids.vm, ...ctx.ids.host, ...ctx.ids.operation]).filter((x) => x.length > 0);
  const pick = known.length ? fc.constantFrom(...known) : fc.uuid({ version: 4 });
  const hostile = hostileString(ctx);
  return fc.oneof(
    { weight: 4, arbitrary: pick.map(pct) },
    { weight: 1, arbitrary: fc.uuid({ version: 4 }) },
    { weight: 2, arbitrary: hostile.map(pct) },
    { weight: 2, arbitrary: hostile.map(looseEncode) },
  );
}

function queryString(route: FuzzRoute, ctx: FuzzContext): fc.Arbitrary<string> {
  const known = route.queryParams.length ? route.queryParams : ['q'];
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '__proto__[polluted]',
        'constructor[prototype][polluted]',
        '__proto__.polluted',
        'a[b][c]',
        'a[]',
        'limit[]',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 10 }) },
  );
  const value = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...NUMBER_TOKENS, '1', '10', '0', '2026-01-01T00:00:00Z', 'true') },
    { weight: 1, arbitrary: fc.constantFrom(...ctx.ids.vm, ...ctx.ids.host, ...ctx.ids.operation) },
    { weight: 3, arbitrary: hostileString(ctx) },
  );
  return fc.array(fc.tuple(key, value), { maxLength: 4 }).map((pairs) =>
    pairs
      .map(([k, v]) => {
        const clamp = CLAMPED[k];
        const val = clamp !== undefined && /^\d+$/.test(v) && Number(v) > clamp ? String(clamp) : v;
        return `${pct(k)}=${pct(val)}`;
      })
      .join('&'),
  );
}

/** A body the DTO accepts, derived from its schema; names get a suffix so creates do not collide. */
function validEntries(schema: JsonSchema, ctx: FuzzContext, suffix: number, path = ''): Array<[string, JsonNode]> {
  const props = schema.properties ?? {};
  const out: Array<[string, JsonNode]> = [];
  for (const name of schema.required ?? []) {
    const p = props[name] ?? {};
    const at = path ? `${path}.${name}` : name;
    out.push([name, validValue(at, p, ctx, suffix)]);
  }
  return out;
}

function validValue(at: string, p: JsonSchema, ctx: FuzzContext, suffix: number): JsonNode {
  // Only what the schema cannot say: which driver is safe to run here, and sizes a host can hold.
  const overrides: Record<string, JsonNode> = {
    driver: 'simulated',
    uri: 'simulated://?latencyMs=0',
    'capacity.vcpus': 64,
    'capacity.memoryMiB': 65536,
    targetHostId: ctx.ids.host[suffix % Math.max(1, ctx.ids.host.length)] ?? 'none',
  };
  if (at in overrides) return overrides[at]!;
  if (p.properties) return obj(validEntries(p, ctx, suffix, at));
  switch (p.type) {
    case 'string':
      return /name$/i.test(at) ? `fz-${suffix}` : typeof p.example === 'string' ? p.example : 'x';
    case 'number':
    case 'integer':
      return typeof p.example === 'number' ? p.example : (p.minimum ?? 1);
    case 'boolean':
      return typeof p.default === 'boolean' ? p.default : false;
    case 'array':
      return [];
    default:
      return null;
  }
}

function bodyOf(route: FuzzRoute, ctx: FuzzContext): fc.Arbitrary<{ text?: string; valid: boolean }> {
  const hostile = hostileNode(ctx);
  const schema = route.body;
  const props = Object.keys(schema?.properties ?? {});
  const template = fc.integer({ min: 0, max: 1e9 }).map((n) => (schema ? validEntries(schema, ctx, n) : []));
  const mutated = fc
    .tuple(
      template,
      fc.array(fc.tuple(fc.constantFrom(...props, 'extra', 'capacity'), hostile), { minLength: 1, maxLength: 3 }),
      rarely(fc.constantFrom(...POLLUTERS), 1),
    )
    .map(([entries, changes, polluter]) => {
      const m = new Map(entries);
      for (const [k, v] of changes) m.set(k, v);
      const all = [...m.entries()];
      if (polluter) all.push(polluter);
      return { text: toJson(obj(all)), valid: false };
    });
  const arbitraries: Array<fc.WeightedArbitrary<{ text?: string; valid: boolean }>> = [
    { weight: 2, arbitrary: template.map((e) => ({ text: toJson(obj(e)), valid: !!schema })) },
    { weight: 5, arbitrary: mutated },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => ({ text: JSON.stringify(v), valid: false })) },
    { weight: 1, arbitrary: template.map((e) => ({ text: toJson([obj(e)]), valid: false })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '',
          '{',
          '{"a":',
          'null',
          '"str"',
          '[]',
          '{"a":1}{"b":2}',
          '\ufeff{}',
          `{"x":"${'a'.repeat(70000)}"}`,
        )
        .map((text) => ({ text, valid: false })),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ text, valid: false })) },
    { weight: 1, arbitrary: fc.constant({ valid: !schema }) },
  ];
  return fc.oneof(...arbitraries);
}

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/xml',
  'application/json, text/plain',
  '*/*',
  '',
];

function authHeader(ctx: FuzzContext): fc.Arbitrary<string | undefined> {
  const t = ctx.tokens;
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(`Bearer ${t.admin}`) },
    { weight: 2, arbitrary: fc.constantFrom(`Bearer ${t.operator}`, `Bearer ${t.auditor}`, `Bearer ${t.viewer}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.constantFrom(
          `Bearer ${t.admin}x`,
          `Bearer ${t.admin.slice(0, -1)}`,
          `bearer ${t.admin}`,
          `Bearer  ${t.admin} extra`,
          `Basic ${Buffer.from('admin:admin').toString('base64')}`,
          'Bearer',
          `Bearer ${'a'.repeat(8000)}`,
        ),
        fc.string({ unit: 'binary', maxLength: 60 }).map((s) => `Bearer ${s}`),
      ),
    },
  );
}

function headersOf(route: FuzzRoute, ctx: FuzzContext, hasBody: boolean): fc.Arbitrary<Record<string, string>> {
  const hostile = hostileString(ctx);
  return fc
    .record({
      auth: authHeader(ctx),
      contentType: fc.oneof(
        { weight: 6, arbitrary: fc.constant('application/json') },
        { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
      idem: rarely(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), hostile), 5),
      ifMatch: rarely(
        fc.oneof(fc.constantFrom('"0"', 'W/"1"', '"99999"', '*'), hostile),
        route.headerParams.includes('if-match') ? 2 : 10,
      ),
      lastEventId: rarely(fc.oneof(fc.constantFrom(...NUMBER_TOKENS), hostile), 4),
      extra: rarely(fc.tuple(fc.stringMatching(/^x-[a-z]{1,8}$/), hostile), 2),
      forwarded: rarely(fc.constantFrom('1.2.3.4', '::1, 10.0.0.1', 'unknown', '999.999.1.1'), 4),
    })
    .map((h) => {
      const out: Record<string, string> = { connection: 'close' };
      if (h.auth !== undefined) out.authorization = headerSafe(h.auth);
      if (hasBody && h.contentType) out['content-type'] = h.contentType;
      if (h.idem !== null) out['idempotency-key'] = headerSafe(h.idem);
      if (h.ifMatch !== null) out['if-match'] = headerSafe(h.ifMatch);
      if (h.lastEventId !== null) out['last-event-id'] = headerSafe(h.lastEventId);
      if (h.extra !== null) out[h.extra[0]] = headerSafe(h.extra[1]);
      if (h.forwarded !== null) out['x-forwarded-for'] = h.forwarded;
      return out;
    });
}

export function requestOf(route: FuzzRoute, ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const params = route.pathParams.map((p) => pathValue(p, ctx, route.template).map((v) => [p, v] as const));
  const bodyless = route.method === 'GET' || (route.method === 'DELETE' && !route.body);
  return fc
    .record({
      method: fc.oneof(
        { weight: 12, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') },
      ),
      params: fc.tuple(...params),
      query: rarely(queryString(route, ctx), 1),
      body: bodyless ? rarely(bodyOf(route, ctx), 8) : bodyOf(route, ctx),
    })
    .chain((r) =>
      headersOf(route, ctx, !!r.body?.text).map((headers) => {
        let path = route.template;
        for (const [name, value] of r.params) path = path.replace(`{${name}}`, value);
        if (r.query) path += `?${r.query}`;
        const text = r.body?.text;
        const body = text === undefined ? undefined : Buffer.from(text, 'utf8');
        if (body) headers['content-length'] = String(body.length);
        const valid = r.method === route.method && !r.query && (r.body?.valid ?? bodyless);
        return {
          route: `${route.method} ${route.template}`,
          method: r.method,
          path,
          headers,
          ...(body ? { body } : {}),
          intended: valid ? 'valid' : 'hostile',
        } satisfies FuzzRequest;
      }),
    );
}

/** One request against any route: the route is drawn first. */
export function anyRequest(routes: FuzzRoute[], ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...routes).chain((r) => requestOf(r, ctx));
}
