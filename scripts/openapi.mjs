#!/usr/bin/env node
// Writes the v1 OpenAPI document (the one /docs-json serves) to dist/openapi.json, from
// the built app (run `npm run build` first), without a listening port, a store or Redis:
// the document depends only on the routes and their decorators, so every port is an
// inert stand-in that nothing calls while the app initialises.
//   node scripts/openapi.mjs [out-file]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(root, 'dist', 'openapi.json'));
const dist = (p) => import(join(root, 'dist', 'src', p));

const { NestFactory } = await import('@nestjs/core');
const { pino } = await import('pino');
const { AppModule } = await dist('runtime/app.module.js');
const { loadConfig } = await dist('config/config.js');
const { openApiDocument } = await dist('http/openapi/document.js');

// Reading any property of an unused port gives undefined (so Nest's lifecycle-hook probes find none).
const inert = () => new Proxy({}, { get: () => undefined });
const ports = {
  config: loadConfig({ DATA_DIR: root, AUTH_TOKENS: 'admin:openapi-document-only-0123456789' }),
  log: pino({ level: 'silent' }),
  tokens: [],
  clock: { now: () => new Date() },
};
for (const name of ['store', 'aggregates', 'sealAudit', 'readModels', 'capabilities', 'hostQueries', 'queues']) {
  ports[name] = inert();
}
for (const name of ['projections', 'metrics', 'idempotency', 'status']) ports[name] = inert();

const app = await NestFactory.create(AppModule.forRoot(ports), { logger: ['error', 'warn'], abortOnError: false });
const doc = openApiDocument(app);
await app.close();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
process.stderr.write(`openapi: ${Object.keys(doc.paths).length} paths → ${out}\n`);
