import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OpenAPIObject, OperationObject, ParameterObject, ResponseObject } from '@nestjs/swagger';
import { applyConventions } from './conventions.js';

/** A document as Nest's explorer leaves it: required filters, a bare If-Match, defaults on request fields. */
function nestLike(): OpenAPIObject {
  return {
    openapi: '3.0.0',
    info: { title: 't', version: '1' },
    paths: {
      '/v1/vms/{id}/stop': {
        post: {
          security: [{ bearer: [] }],
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'if-match', in: 'header', required: true, schema: { type: 'string' } },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/StopVmDto' } } },
          },
          responses: { '202': { description: 'Accepted' } },
        },
      },
      '/v1/vms': {
        get: {
          security: [{ bearer: [] }],
          parameters: [{ name: 'vmId', in: 'query', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'OK' } },
        },
      },
      '/health': { get: { parameters: [], responses: { '200': { description: 'OK' } } } },
    },
    components: {
      schemas: {
        StopVmDto: { type: 'object', properties: { force: { type: 'boolean', default: false, description: 'Hard' } } },
      },
    },
  };
}

const param = (op: OperationObject, name: string) =>
  (op.parameters as ParameterObject[]).find((p) => p.name.toLowerCase() === name.toLowerCase());

describe('applyConventions: what every v1 route shares', () => {
  const doc = applyConventions(nestLike());
  const stop = doc.paths['/v1/vms/{id}/stop']!.post!;
  const list = doc.paths['/v1/vms']!.get!;
  const health = doc.paths['/health']!.get!;

  test('query parameters and headers are optional, path parameters stay required', () => {
    assert.equal(param(list, 'vmId')?.required, false);
    assert.equal(param(stop, 'If-Match')?.required, false);
    assert.equal(param(stop, 'If-Match')?.name, 'If-Match');
    assert.equal(param(stop, 'id')?.required, true);
    assert.deepEqual(param(list, 'vmId')?.schema, { type: 'string', format: 'uuid' });
  });

  test('mutations take an optional Idempotency-Key; reads and public routes do not', () => {
    assert.equal(param(stop, 'Idempotency-Key')?.required, false);
    assert.equal(param(list, 'Idempotency-Key'), undefined);
    assert.equal(param(health, 'Idempotency-Key'), undefined);
  });

  test('every error status carries the ErrorResponse body; 429/503 say Retry-After; public routes get no 401/403', () => {
    for (const status of ['400', '401', '403', '404', '409', '412', '413', '415', '422', '429', '500', '503']) {
      const r = stop.responses[status] as ResponseObject | undefined;
      assert.deepEqual(
        r?.content?.['application/json']?.schema,
        { $ref: '#/components/schemas/ErrorResponse' },
        status,
      );
    }
    assert.ok((stop.responses['503'] as ResponseObject).headers?.['Retry-After']);
    assert.ok((stop.responses['429'] as ResponseObject).headers?.['Retry-After']);
    assert.equal(health.responses['401'], undefined);
    assert.deepEqual(health.security, []);
    assert.equal(list.responses['413'], undefined);
  });

  test('a body whose fields are all optional may be left out, and a default is said in words, not required', () => {
    assert.equal((stop.requestBody as { required?: boolean }).required, false);
    const force = doc.components!.schemas!.StopVmDto as { properties: Record<string, Record<string, unknown>> };
    assert.equal(force.properties.force!.default, undefined);
    assert.equal(force.properties.force!.description, 'Hard. Default: false');
  });
});
