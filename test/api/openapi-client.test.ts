/**
 * The contract, checked the way a client uses it: types generated from the running
 * app's /docs-json (openapi-typescript's Node API), a client over them (openapi-fetch),
 * and a VM's whole lifecycle through that client (test/openapi-client/lifecycle.mts)
 * compiled with tsc --strict against the fresh types, then run. Generated into a
 * scratch directory under dist/ (gitignored), never checked in: the document is the
 * app's, and a checked-in copy would go stale with every route another change adds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { uniqueName } from '../support/env.js';
import type { Json } from '../support/e2e.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const source = join(root, 'test', 'openapi-client', 'lifecycle.mts');
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function operations(doc: Json): Array<[string, string, Json]> {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    METHODS.filter((m) => (item as Json)[m]).map((m): [string, string, Json] => [path, m, (item as Json)[m] as Json]),
  );
}

describe('OpenAPI: a generated client runs a VM lifecycle', () => {
  let t: TestApp;
  let baseUrl: string;
  let doc: Json;
  const scratch = join(root, 'dist', uniqueName('openapi-client'));

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    const res = await fetch(`${baseUrl}/docs-json`);
    assert.equal(res.status, 200);
    doc = (await res.json()) as Json;
  });
  after(async () => {
    await t?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('every operation has a summary, an operationId and a typed body for each of its responses', () => {
    const ids = new Set<string>();
    for (const [path, method, op] of operations(doc)) {
      const where = `${method.toUpperCase()} ${path}`;
      assert.ok(op.summary, `${where}: no summary`);
      assert.ok(op.operationId && !ids.has(op.operationId), `${where}: operationId missing or repeated`);
      ids.add(op.operationId);
      for (const [status, r] of Object.entries(op.responses as Json)) {
        const content = (r as Json).content as Json | undefined;
        // 204 No Content and 101 Switching Protocols (the console's WebSocket) have no body by definition.
        if (status === '204' || status === '101') {
          assert.equal(content, undefined, `${where} ${status}: this answer has no body`);
          continue;
        }
        assert.ok(content && Object.keys(content).length, `${where} ${status}: no body schema`);
        if (Number(status) >= 400)
          assert.equal(content['application/json']?.schema?.$ref, '#/components/schemas/ErrorResponse', where);
      }
      for (const p of (op.parameters ?? []) as Json[])
        if (p.in !== 'path') assert.equal(p.required, false, `${where}: ${p.in} ${p.name} must be optional`);
    }
  });

  test('commands are 202 with Location; bearer auth is not called a JWT; servers and integers are right', () => {
    const start = doc.paths['/v1/vms/{id}/start'].post as Json;
    assert.deepEqual(
      Object.keys(start.responses).filter((s) => s.startsWith('2')),
      ['202'],
    );
    assert.ok(start.responses['202'].headers.Location);
    assert.ok((start.parameters as Json[]).some((p) => p.name === 'Idempotency-Key' && p.in === 'header'));
    assert.ok((start.parameters as Json[]).some((p) => p.name === 'If-Match' && p.in === 'header'));
    assert.ok(doc.paths['/v1/vms/{id}'].get.responses['200'].headers.ETag);
    // Record creations (not commands) answer 201 with the record's Location.
    for (const path of ['/v1/hosts', '/v1/projects'])
      assert.ok(doc.paths[path].post.responses['201'].headers.Location, `POST ${path}: 201 Location`);
    assert.ok(start.responses['503'].headers['Retry-After']);
    assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer');
    assert.equal(doc.components.securitySchemes.bearer.bearerFormat, undefined);
    assert.ok((doc.servers as Json[]).length > 0);
    assert.equal(doc.components.schemas.CreateVmDto.properties.vcpus.type, 'integer');
    assert.equal(doc.components.schemas.VmResponse.properties.vcpus.type, 'integer');
  });

  test('empty optional query parameters are the same as absent ones (?cursor=&limit=)', async () => {
    const res = await t.as('viewer').get('/v1/vms?cursor=&limit=');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(Array.isArray(res.body.items));
    const ops = await t.as('viewer').get('/v1/operations?cursor=&limit=&vmId=');
    assert.equal(ops.status, 200, JSON.stringify(ops.body));
  });

  test('types generated from /docs-json compile the lifecycle client (tsc --strict, no cast), which then runs it', async () => {
    const code = readFileSync(source, 'utf8');
    // No escape hatch from the generated types: no `as`, `any`, non-null `!`, or ts-ignore (comments aside).
    const codeOnly = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const casts = codeOnly.match(/\bas\s+(?!const\b)[\w{[(]|\bany\b|@ts-|\w[!]\s*[.[(;,)]/g) ?? [];
    assert.deepEqual(casts, [], 'the client code must not cast');
    mkdirSync(scratch, { recursive: true });
    writeFileSync(join(scratch, 'v1.d.ts'), astToString(await openapiTS(doc as Parameters<typeof openapiTS>[0])));
    copyFileSync(source, join(scratch, 'lifecycle.mts'));
    writeFileSync(
      join(scratch, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
        },
        files: ['lifecycle.mts', 'v1.d.ts'],
      }),
    );
    const compiled = spawnSync(process.execPath, [tsc, '-p', join(scratch, 'tsconfig.json')], { encoding: 'utf8' });
    assert.equal(compiled.status, 0, `the client does not compile against the generated types:\n${compiled.stdout}`);

    const { runLifecycle } = (await import(pathToFileURL(join(scratch, 'lifecycle.mjs')).href)) as {
      runLifecycle: (baseUrl: string, admin: string, operator: string) => Promise<Json>;
    };
    const report = await runLifecycle(baseUrl, TOKENS.admin, TOKENS.operator);
    assert.deepEqual(
      report.commands.map((c: Json) => [c.name, c.status, c.operation.status]),
      [
        ['create', 202, 'succeeded'],
        ['stop', 202, 'succeeded'],
        ['start', 202, 'succeeded'],
        ['snapshot', 202, 'succeeded'],
        ['delete', 202, 'succeeded'],
      ],
    );
    for (const c of report.commands as Json[]) assert.equal(c.location, `/v1/operations/${c.operation.id}`);
    assert.deepEqual(report.states, ['running', 'stopped', 'running', 'running', 'deleted']);
    assert.deepEqual(report.snapshots, ['before-upgrade']);
    assert.equal(report.etag, `"${report.revision}"`);
    assert.equal(report.stale.status, 412);
    assert.equal(report.stale.error.statusCode, 412);
    assert.equal(report.deleted, 'deleted');
    assert.equal(report.hostLocation, `/v1/hosts/${report.hostId}`);
    assert.deepEqual(report.project, { name: 'openapi-team', location: '/v1/projects/openapi-team', vms: 0 });
    assert.ok(Array.isArray(report.images));
    assert.ok(report.fleetHosts.includes('openapi-hv'), JSON.stringify(report.fleetHosts));
  });
});
