import assert from 'node:assert/strict';
import { waitOperation, type TestApp, type TestRole } from './app.js';

type Json = Record<string, unknown>;

/** A volume command's 202: `{operationId, volumeId?}` and its Location; then its finished operation. */
export async function volumeOp(
  t: TestApp,
  method: 'post' | 'patch' | 'delete',
  path: string,
  body?: object,
  role: TestRole = 'operator',
): Promise<{ operationId: string; volumeId: string; operation: Json }> {
  const agent = t.as(role);
  const res =
    method === 'post'
      ? await agent.post(path, body)
      : method === 'patch'
        ? await agent.patch(path, body)
        : await agent.delete(path);
  assert.equal(res.status, 202, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  const operationId = res.body.operationId as string;
  assert.equal(res.headers.location, `/v1/operations/${operationId}`);
  const operation = await waitOperation(t, operationId, 60000);
  return { operationId, volumeId: res.body.volumeId as string, operation };
}

/** Creates a volume and waits until its file exists on the host. */
export async function createVolume(
  t: TestApp,
  body: { name: string; sizeGiB: number; hostId?: string },
): Promise<string> {
  const r = await volumeOp(t, 'post', '/v1/volumes', body);
  assert.equal(r.operation.status, 'succeeded', JSON.stringify(r.operation));
  return r.volumeId;
}

/** Runs an attach or detach and requires it to succeed. */
export async function attachOk(t: TestApp, vmId: string, volumeId: string): Promise<Json> {
  const r = await volumeOp(t, 'post', `/v1/vms/${vmId}/volumes`, { volumeId });
  assert.equal(r.operation.status, 'succeeded', JSON.stringify(r.operation));
  return r.operation;
}

export async function detachOk(t: TestApp, vmId: string, volumeId: string): Promise<Json> {
  const r = await volumeOp(t, 'delete', `/v1/vms/${vmId}/volumes/${volumeId}`);
  assert.equal(r.operation.status, 'succeeded', JSON.stringify(r.operation));
  return r.operation;
}
