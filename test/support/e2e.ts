/**
 * Helpers shared by the e2e suites (test/api, test/audit, test/process, test/chaos, test/drivers/*). Everything here goes
 * through the HTTP API as a user would, except where a test must read the log
 * itself (counting events) — then it reads the store the app uses.
 */
import assert from 'node:assert/strict';
import { createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'supertest';
import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';
import { hostQueueName, RESULTS_QUEUE } from '../../src/application/jobs.js';
import { TOKENS, waitOperation, type TestApp, type TestRole } from './app.js';
import { waitFor } from './wait.js';

export const HOST_KEYS = ['id', 'name', 'driver', 'uri', 'capacity', 'allocated', 'state'] as const;
export const VM_KEYS = [
  'id',
  'name',
  'state',
  'hostId',
  'vcpus',
  'memoryMiB',
  'diskGiB',
  'snapshots',
  'revision',
  'updatedAt',
] as const;
export const OPERATION_KEYS = ['id', 'kind', 'vmId', 'status', 'error', 'principal', 'createdAt', 'updatedAt'] as const;
export const EVENT_KEYS = ['position', 'streamId', 'revision', 'type', 'data', 'metadata'] as const;
export const META_KEYS = ['principal', 'correlationId', 'causationId', 'at', 'schema', 'prevHash', 'hash'] as const;

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Accepted {
  operationId: string;
  vmId: string;
}

const show = (res: Response): string => `${res.status} ${JSON.stringify(res.body)}`;

/** A mutation's answer: 202, `{ operationId, vmId }`, `Location: /v1/operations/{operationId}`. */
export function assertAccepted(res: Response, vmId?: string): Accepted {
  assert.equal(res.status, 202, show(res));
  assert.equal(typeof res.body.operationId, 'string', show(res));
  assert.equal(typeof res.body.vmId, 'string', show(res));
  if (vmId) assert.equal(res.body.vmId, vmId);
  assert.equal(res.headers.location, `/v1/operations/${res.body.operationId}`);
  return { operationId: res.body.operationId as string, vmId: res.body.vmId as string };
}

/** The v1 error shape, with `field` named in the message or in details. */
export function assertError(res: Response, status: number, field?: string | RegExp): void {
  assert.equal(res.status, status, show(res));
  assert.equal(res.body.statusCode, status, show(res));
  assert.equal(typeof res.body.error, 'string', show(res));
  assert.ok(res.body.error.length > 0, show(res));
  assert.equal(typeof res.body.message, 'string', show(res));
  const allowed = new Set(['statusCode', 'error', 'message', 'details']);
  for (const k of Object.keys(res.body)) assert.ok(allowed.has(k), `unexpected key ${k} in error body ${show(res)}`);
  if (field !== undefined) {
    const text = `${res.body.message} ${JSON.stringify(res.body.details ?? null)}`;
    const named =
      typeof field === 'string'
        ? text.includes(field) ||
          (Array.isArray(res.body.details) && (res.body.details as Json[]).some((d) => d.field === field))
        : field.test(text);
    assert.ok(named, `expected the error to name ${String(field)}: ${show(res)}`);
  }
}

export function assertHasKeys(obj: Json, keys: readonly string[], what: string): void {
  for (const k of keys)
    assert.ok(Object.prototype.hasOwnProperty.call(obj, k), `${what} lacks "${k}": ${JSON.stringify(obj)}`);
}

/** Sends a mutation as `role`; `path` is relative to /v1/vms/{vmId} when vmId is given. */
export function mutate(t: TestApp, role: TestRole, method: 'post' | 'delete', path: string, body?: object) {
  return method === 'post' ? t.as(role).post(path, body) : t.as(role).delete(path);
}

/** Runs one VM verb as an operator and waits for its operation to finish. */
export async function runOp(
  t: TestApp,
  method: 'post' | 'delete',
  path: string,
  body?: object,
  role: TestRole = 'operator',
): Promise<{ accepted: Accepted; operation: Json }> {
  const res = await mutate(t, role, method, path, body);
  const accepted = assertAccepted(res);
  const operation = await waitOperation(t, accepted.operationId);
  return { accepted, operation };
}

/** Same as runOp, and the operation must succeed. */
export async function runOk(
  t: TestApp,
  method: 'post' | 'delete',
  path: string,
  body?: object,
  role: TestRole = 'operator',
) {
  const r = await runOp(t, method, path, body, role);
  assert.equal(r.operation.status, 'succeeded', `${method} ${path}: ${JSON.stringify(r.operation)}`);
  return r;
}

export async function getVm(t: TestApp, vmId: string): Promise<Json> {
  const res = await t.as('viewer').get(`/v1/vms/${vmId}`);
  assert.equal(res.status, 200, show(res));
  return res.body as Json;
}

export async function getHost(t: TestApp, hostId: string): Promise<Json> {
  const res = await t.as('viewer').get(`/v1/hosts/${hostId}`);
  assert.equal(res.status, 200, show(res));
  return res.body as Json;
}

/** The VM's history through the API (every page). */
export async function vmEvents(t: TestApp, vmId: string): Promise<Json[]> {
  const out: Json[] = [];
  let from = '0';
  for (;;) {
    const res = await t.as('auditor').get(`/v1/vms/${vmId}/events?fromRevision=${from}&limit=1000`);
    assert.equal(res.status, 200, show(res));
    out.push(...(res.body.items as Json[]));
    if (res.body.next === null) return out;
    from = res.body.next as string;
  }
}

/** The whole log, straight from the store the app writes to. */
export async function storeEvents(t: TestApp): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  let after: bigint | undefined;
  for (;;) {
    const page = await t.runtime.store!.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 1000 });
    if (!page.length) return out;
    out.push(...page);
    after = page[page.length - 1]!.position;
  }
}

export async function countEvents(t: TestApp, pred: (e: RecordedEvent) => boolean): Promise<number> {
  return (await storeEvents(t)).filter(pred).length;
}

/** Polls `probe` until it returns something truthy; fails with `what` (and the last value) after timeoutMs. */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 15000,
): Promise<T> {
  return waitFor(probe, { what, timeoutMs, intervalMs: 50 });
}

/**
 * Waits until the app has nothing left to do: every subscription (projections,
 * sagas) at the head of the log, no job waiting or running on any queue, and
 * the log length unchanged over two consecutive looks.
 */
export async function waitSettled(t: TestApp, hostIds: string[], timeoutMs = 15000): Promise<number> {
  let previous = -1;
  return waitUntil(
    'the app to settle',
    async () => {
      const health = await t.http().get('/health');
      if (health.status !== 200) return false;
      const lag = health.body.details?.subscriptions?.lag as Record<string, string> | undefined;
      if (!lag || Object.values(lag).some((v) => v !== '0')) return false;
      for (const q of [...hostIds.map(hostQueueName), RESULTS_QUEUE]) {
        const counts = await t.runtime.hub.queue(q).getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if (Object.values(counts).some((n) => n > 0)) return false;
      }
      if ((await t.runtime.hub.pendingResults()) > 0) return false;
      const n = (await storeEvents(t)).length;
      const stable = n === previous;
      previous = n;
      if (!stable) {
        await sleep(150);
        return false;
      }
      return n;
    },
    timeoutMs,
  );
}

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
}

/**
 * Reads `count` events from an SSE endpoint with a raw HTTP request (a second
 * http.Server over the same Express app, so supertest's own listener is not
 * involved), then disconnects.
 */
export async function readSse(
  t: TestApp,
  path: string,
  count: number,
  role: TestRole = 'auditor',
  headers: Record<string, string> = {},
  timeoutMs = 10000,
) {
  const server: Server = createServer(t.app.getHttpAdapter().getInstance());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<{ status: number; contentType: string; frames: SseFrame[] }>((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`SSE: fewer than ${count} events within ${timeoutMs} ms`));
      }, timeoutMs);
      const req = httpGet(
        {
          host: '127.0.0.1',
          port,
          path,
          headers: { Authorization: `Bearer ${TOKENS[role]}`, Accept: 'text/event-stream', ...headers },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const contentType = String(res.headers['content-type'] ?? '');
          const frames: SseFrame[] = [];
          let buf = '';
          const finish = () => {
            clearTimeout(timer);
            req.destroy();
            resolve({ status, contentType, frames });
          };
          if (status !== 200) {
            res.resume();
            res.on('end', finish);
            return;
          }
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let i: number;
            while ((i = buf.indexOf('\n\n')) >= 0) {
              const raw = buf.slice(0, i);
              buf = buf.slice(i + 2);
              const frame: SseFrame = {};
              for (const line of raw.split('\n')) {
                const m = /^(id|event|data): ?(.*)$/.exec(line);
                if (m) frame[m[1] as keyof SseFrame] = m[2];
              }
              if (frame.data !== undefined && frame.id !== undefined) frames.push(frame);
              if (frames.length >= count) return finish();
            }
          });
        },
      );
      req.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Registers a simulated host and returns its full view (asserting the 201 and its shape). */
export async function registerSimHost(
  t: TestApp,
  name: string,
  uri = 'simulated://?latencyMs=0',
  capacity = { vcpus: 64, memoryMiB: 65536 },
): Promise<Json> {
  const res = await t.as('admin').post('/v1/hosts', { name, driver: 'simulated', uri, capacity });
  assert.equal(res.status, 201, show(res));
  assertHasKeys(res.body as Json, HOST_KEYS, 'host');
  return res.body as Json;
}

/** Creates a VM as an operator; returns the acceptance and the finished operation. */
export async function createVmOp(t: TestApp, body: Json = {}) {
  return runOp(t, 'post', '/v1/vms', { name: 'vm', vcpus: 1, memoryMiB: 64, diskGiB: 1, ...body });
}

/**
 * A host's allocation once the sagas have settled it. Releases (after a delete,
 * a migration or a failed create) are a saga step that follows the event closing
 * the operation, so they may land a moment after the operation reads `succeeded`.
 */
export async function waitAllocated(
  t: TestApp,
  hostId: string,
  expected: { vcpus: number; memoryMiB: number },
  timeoutMs = 10000,
) {
  let last: unknown;
  try {
    await waitUntil(
      `host ${hostId} allocation ${JSON.stringify(expected)}`,
      async () => {
        last = (await getHost(t, hostId)).allocated;
        return JSON.stringify(last) === JSON.stringify(expected);
      },
      timeoutMs,
    );
  } catch {
    assert.deepEqual(last, expected, `host ${hostId} allocation`);
  }
}
