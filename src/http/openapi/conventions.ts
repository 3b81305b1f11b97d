import type {
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  ReferenceObject,
  ResponseObject,
  SchemaObject,
} from '@nestjs/swagger';

const ERROR_REF = { $ref: '#/components/schemas/ErrorResponse' };
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** Why each error status can come back, as a client should read it. */
const ERRORS: Record<number, string> = {
  400: 'A field or parameter is wrong: the message and details name it; nothing was recorded',
  401: 'No valid bearer token',
  403: "The token's role may not do this",
  404: 'No such resource',
  409: 'Refused by the current state: another operation holds the VM (named), or capacity is short',
  412: 'If-Match names a revision that is no longer the current one',
  413: 'The body is larger than BODY_LIMIT',
  415: 'The body is not JSON',
  422: "The host's driver cannot do this, or an Idempotency-Key was reused for another request",
  429: 'Too many requests from this principal, or the server is busy (MAX_REQUESTS_IN_FLIGHT); retry after Retry-After',
  500: 'Internal error (logged with the request)',
  503: 'A dependency (event store, Redis, a host worker) is unavailable; retry after Retry-After',
};

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
};

const IDEMPOTENCY_KEY: ParameterObject = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'Makes a retry safe: the first answer is kept 24 h per principal and replayed for the same key and request; ' +
    'the same key with another request is a 422, with a request still running a 409',
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
};

const IF_MATCH =
  'Only if the resource is still at this revision (the ETag a GET gave, e.g. "7"); otherwise 412 and nothing is recorded';

const POSITION = { type: 'string', pattern: '^\\d{1,20}$' };

/** Parameters that mean the same on every route, described once (a route's own words win). */
const PARAMETERS: Record<string, { description: string; schema?: SchemaObject }> = {
  vmId: { description: 'Only those of this VM (uuid)', schema: { type: 'string', format: 'uuid' } },
  hostId: { description: 'Only those of this host' },
  type: { description: 'Only events of this type (e.g. VmStarted)' },
  principal: { description: 'Only those of this principal' },
  correlationId: { description: 'Only those of this operation (correlation id)' },
  streamId: { description: 'One stream (e.g. vm-<uuid>, host-<id>)' },
  since: { description: 'Recorded at or after this ISO 8601 instant', schema: { type: 'string', format: 'date-time' } },
  until: { description: 'Recorded before this ISO 8601 instant', schema: { type: 'string', format: 'date-time' } },
  fromPosition: { description: 'First log position (inclusive, decimal string)', schema: POSITION },
  toPosition: { description: 'Last log position (inclusive, decimal string)', schema: POSITION },
  position: { description: 'A log position (decimal string)', schema: POSITION },
};

const PATH_PARAMETERS: Record<string, string> = {
  id: 'The resource id (a VM or operation uuid, a host id, a projection name)',
  name: 'The name (snapshot, read model)',
};

function isParam(p: ParameterObject | ReferenceObject): p is ParameterObject {
  return 'in' in p;
}

/** v1 filters and headers are all optional: a route that needs one says so in its own checks (400). */
function optionalParameters(op: OperationObject): void {
  for (const p of op.parameters ?? []) {
    if (!isParam(p)) continue;
    if (p.in === 'path') {
      p.description ??= PATH_PARAMETERS[p.name];
      continue;
    }
    p.required = false;
    const known = p.in === 'query' ? PARAMETERS[p.name] : undefined;
    if (known) {
      p.description ??= known.description;
      if (known.schema && (!p.schema || ('type' in p.schema && p.schema.type === 'string' && !p.schema.pattern)))
        p.schema = known.schema;
    }
    if (p.in === 'header' && p.name.toLowerCase() === 'if-match') {
      p.name = 'If-Match';
      p.description ??= IF_MATCH;
      p.schema = { type: 'string', example: '"7"' };
    }
  }
}

function errorStatuses(path: string, method: string, op: OperationObject): number[] {
  const secured = (op.security ?? []).length > 0;
  const params = (op.parameters ?? []).some((p) => isParam(p) && p.in !== 'header');
  const command = op.responses['202'] !== undefined;
  return [
    ...(params || op.requestBody ? [400] : []),
    ...(secured ? [401, 403] : []),
    ...(path.includes('{') ? [404] : []),
    ...(command ? [409, 412, 422] : []),
    ...(op.requestBody ? [413, 415] : []),
    ...(method !== 'get' && secured && !command ? [409, 422] : []),
    429,
    500,
    503,
  ];
}

function addErrors(path: string, method: string, op: OperationObject): void {
  for (const status of new Set(errorStatuses(path, method, op))) {
    const key = String(status);
    const existing = op.responses[key] as ResponseObject | undefined;
    const response: ResponseObject = {
      description: existing?.description ?? ERRORS[status] ?? 'Error',
      content: { 'application/json': { schema: ERROR_REF } },
      ...(status === 503 || status === 429 ? { headers: { ...RETRY_AFTER, ...existing?.headers } } : {}),
    };
    op.responses[key] = response;
  }
}

/** A body whose fields are all optional (a reason, a force flag) may be left out altogether. */
function optionalBody(doc: OpenAPIObject, op: OperationObject): void {
  const body = op.requestBody;
  if (!body || !('content' in body)) return;
  const schema = body.content['application/json']?.schema;
  if (!schema || !('$ref' in schema)) return;
  const target = doc.components?.schemas?.[schema.$ref.replace('#/components/schemas/', '')];
  if (target && !('$ref' in target) && !(target.required ?? []).length) body.required = false;
}

/**
 * A request field with a `default` is optional, but generators (openapi-typescript's
 * defaultNonNullable) type a defaulted property as always present, so a client would have
 * to send it: in request bodies the default moves into the description.
 */
function defaultsInWords(doc: OpenAPIObject, op: OperationObject): void {
  const body = op.requestBody;
  if (!body || !('content' in body)) return;
  const ref = body.content['application/json']?.schema;
  const seen = new Set<string>();
  const visit = (schema: SchemaObject | ReferenceObject | undefined): void => {
    if (!schema) return;
    if ('$ref' in schema) {
      const name = schema.$ref.replace('#/components/schemas/', '');
      if (seen.has(name)) return;
      seen.add(name);
      return visit(doc.components?.schemas?.[name]);
    }
    for (const prop of Object.values<SchemaObject | ReferenceObject>(schema.properties ?? {})) {
      if (!('$ref' in prop) && prop.default !== undefined) {
        prop.description = `${prop.description ? `${prop.description}. ` : ''}Default: ${JSON.stringify(prop.default)}`;
        delete prop.default;
      }
      visit(prop);
    }
    for (const part of schema.allOf ?? []) visit(part);
  };
  visit(ref);
}

/**
 * What every v1 route shares, added once here instead of on each handler: the error
 * body on every error status, optional query parameters and headers, Idempotency-Key
 * on each mutation, Retry-After on 429/503.
 */
export function applyConventions(doc: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op: OperationObject | undefined = item[method];
      if (!op) continue;
      optionalParameters(op);
      optionalBody(doc, op);
      defaultsInWords(doc, op);
      // Public routes (health, metrics) say so, rather than leave a reader to guess.
      op.security ??= [];
      const secured = (op.security ?? []).length > 0;
      if (secured && (method === 'post' || method === 'delete')) {
        const params = op.parameters ?? [];
        if (!params.some((p) => isParam(p) && p.name.toLowerCase() === 'idempotency-key'))
          op.parameters = [...params, { ...IDEMPOTENCY_KEY }];
      }
      addErrors(path, method, op);
    }
  }
  return doc;
}
