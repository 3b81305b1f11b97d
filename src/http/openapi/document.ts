import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { applyConventions } from './conventions.js';
import { AcceptedResponse } from './accepted.response.js';
import { ErrorResponse, FieldErrorResponse } from './error.response.js';

const TAGS: Array<[string, string]> = [
  ['hosts', 'Hypervisor hosts: register, read (also as of a past instant), ask what their driver runs'],
  ['vms', 'Virtual machines and containers: create, lifecycle, snapshots, migration, history'],
  ['operations', 'What a command started: status, step, progress; kept forever'],
  ['events', 'The global event log and its live feed'],
  ['audit', 'Hash-chain and seal verification, export, replay check'],
  ['projections', 'Read models: positions and rebuilds'],
  ['health', 'Liveness, readiness, Prometheus metrics'],
];

/**
 * Controllers one resource is split into by concern: their operations keep the resource's
 * prefix (`vms_start`), so generated clients do not change with the split.
 */
const RESOURCE_OF: Record<string, string> = {
  VmLifecycleController: 'Vms',
  VmSnapshotsController: 'Vms',
  VmHistoryController: 'Vms',
};

/** `VmsController` + `create` → `vms_create`: stable, unique, readable in generated clients. */
function operationId(controllerKey: string, methodKey: string): string {
  const base = RESOURCE_OF[controllerKey] ?? controllerKey.replace(/Controller$/, '');
  return `${base.charAt(0).toLowerCase()}${base.slice(1)}_${methodKey}`;
}

/**
 * The v1 OpenAPI document, as served at /docs-json and written by `npm run openapi`.
 * Routes declare their own summaries and 2xx bodies; conventions.ts adds what every
 * route shares (error bodies, optional filters, Idempotency-Key, Retry-After).
 */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('virtledger')
    .setDescription(
      'Event-sourced control plane for virtual machines and containers: HTTP API v1. ' +
        'Commands answer 202 with the operation to follow; errors share one body (ErrorResponse).',
    )
    .setVersion('1')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addServer('/', 'The server that serves this document')
    // Opaque tokens from AUTH_TOKENS, not JWTs: no bearerFormat.
    .addSecurity('bearer', { type: 'http', scheme: 'bearer', description: 'A token from AUTH_TOKENS' });
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const doc = SwaggerModule.createDocument(app, builder.build(), {
    operationIdFactory: operationId,
    extraModels: [ErrorResponse, FieldErrorResponse, AcceptedResponse],
  });
  return applyConventions(doc);
}
