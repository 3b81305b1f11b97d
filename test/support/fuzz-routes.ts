/** The routes to fuzz, read from the app's own OpenAPI document: a new route is fuzzed without edits here. */

export type JsonSchema = {
  $ref?: string;
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  example?: unknown;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  items?: JsonSchema;
};

export interface FuzzRoute {
  method: string;
  /** OpenAPI template, e.g. /v1/vms/{id}/snapshots/{name}/revert. */
  template: string;
  pathParams: string[];
  queryParams: string[];
  headerParams: string[];
  /** Resolved request body schema, when the route takes one. */
  body?: JsonSchema;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

interface OpenApiOperation {
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

/** Inlines `$ref`s (the DTO schemas are small and not recursive). */
export function resolveSchema(schema: JsonSchema, doc: OpenApiDoc, depth = 0): JsonSchema {
  if (depth > 8) return {};
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop()!;
    return resolveSchema(doc.components?.schemas?.[name] ?? {}, doc, depth + 1);
  }
  const out: JsonSchema = { ...schema };
  if (schema.properties) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([k, v]) => [k, resolveSchema(v, doc, depth + 1)]),
    );
  }
  if (schema.items) out.items = resolveSchema(schema.items, doc, depth + 1);
  return out;
}

export function routesOf(doc: OpenApiDoc): FuzzRoute[] {
  const routes: FuzzRoute[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (!METHODS.has(method)) continue;
      const params = op.parameters ?? [];
      const of = (where: string) => params.filter((p) => p.in === where).map((p) => p.name);
      const schema = op.requestBody?.content?.['application/json']?.schema;
      routes.push({
        method: method.toUpperCase(),
        template,
        pathParams: of('path'),
        queryParams: of('query'),
        headerParams: of('header'),
        ...(schema ? { body: resolveSchema(schema, doc) } : {}),
      });
    }
  }
  return routes;
}

/** Fetches /docs-json from a listening app. */
export async function loadRoutes(port: number): Promise<FuzzRoute[]> {
  const res = await fetch(`http://127.0.0.1:${port}/docs-json`);
  if (res.status !== 200) throw new Error(`/docs-json answered ${res.status}`);
  return routesOf((await res.json()) as OpenApiDoc);
}
