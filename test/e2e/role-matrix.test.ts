/**
 * The role matrix: every route of /docs-json × every role (admin, operator,
 * auditor, viewer, and no token) → the status it must get, from one table.
 * Allowed calls must really succeed (each mutation gets a VM in the state it
 * needs); refused ones get 403 (401 without a token) and append nothing.
 * A route missing from the table fails the first test: add its row.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { startTestApp, TOKENS, waitOperation, type TestApp, type TestRole } from '../support/app.js';
import { sendRaw, type RawResponse } from '../support/fuzz-http.js';
import { loadRoutes } from '../support/fuzz-routes.js';
import { assertAccepted, createVmOp, registerSimHost, runOk, storeEvents } from './e2e-helpers.js';

type Who = TestRole | 'none';
const WHO: Who[] = ['admin', 'operator', 'auditor', 'viewer', 'none'];
const ALL: TestRole[] = ['admin', 'operator', 'auditor', 'viewer'];
const MUTATORS: TestRole[] = ['admin', 'operator'];
const AUDIT: TestRole[] = ['admin', 'auditor'];

type VmSetup = 'running' | 'stopped' | 'paused' | 'with-snapshot';

interface Row {
  /** Who gets `ok`; 'public' = everyone, without a token too. */
  allowed: TestRole[] | 'public';
  ok: number;
  body?: (n: number) => object;
  /** A mutation of one VM: a fresh VM in this state for each allowed call. */
  vm?: VmSetup;
}

/** The matrix. Keys are `METHOD /template` exactly as /docs-json lists them. */
const MATRIX: Record<string, Row> = {
  'POST /v1/hosts': {
    allowed: ['admin'],
    ok: 201,
    body: (n) => ({
      name: `m-${n}`,
      driver: 'simulated',
      uri: 'simulated://',
      capacity: { vcpus: 8, memoryMiB: 8192 },
    }),
  },
  'GET /v1/hosts': { allowed: ALL, ok: 200 },
  'GET /v1/hosts/{id}': { allowed: ALL, ok: 200 },
  'GET /v1/hosts/{id}/domains': { allowed: ['admin', 'operator', 'auditor'], ok: 200 },
  'POST /v1/vms': {
    allowed: MUTATORS,
    ok: 202,
    body: (n) => ({ name: `m-${n}`, vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
  },
  'GET /v1/vms': { allowed: ALL, ok: 200 },
  'GET /v1/vms/{id}': { allowed: ALL, ok: 200 },
  'DELETE /v1/vms/{id}': { allowed: MUTATORS, ok: 202, vm: 'running' },
  'POST /v1/vms/{id}/start': { allowed: MUTATORS, ok: 202, vm: 'stopped' },
  'POST /v1/vms/{id}/stop': { allowed: MUTATORS, ok: 202, vm: 'running', body: () => ({ force: true }) },
  'POST /v1/vms/{id}/reboot': { allowed: MUTATORS, ok: 202, vm: 'running' },
  'POST /v1/vms/{id}/pause': { allowed: MUTATORS, ok: 202, vm: 'running' },
  'POST /v1/vms/{id}/resume': { allowed: MUTATORS, ok: 202, vm: 'paused' },
  'POST /v1/vms/{id}/snapshots': { allowed: MUTATORS, ok: 202, vm: 'running', body: (n) => ({ name: `s-${n}` }) },
  'GET /v1/vms/{id}/snapshots': { allowed: ALL, ok: 200 },
  'POST /v1/vms/{id}/snapshots/{name}/revert': { allowed: MUTATORS, ok: 202, vm: 'with-snapshot' },
  'DELETE /v1/vms/{id}/snapshots/{name}': { allowed: MUTATORS, ok: 202, vm: 'with-snapshot' },
  'POST /v1/vms/{id}/migrations': { allowed: MUTATORS, ok: 202, vm: 'running' },
  'GET /v1/operations': { allowed: ALL, ok: 200 },
  'GET /v1/operations/{id}': { allowed: ALL, ok: 200 },
  'GET /v1/vms/{id}/events': { allowed: ['admin', 'operator', 'auditor'], ok: 200 },
  'GET /v1/events': { allowed: AUDIT, ok: 200 },
  'GET /v1/events/stream': { allowed: AUDIT, ok: 200 },
  'GET /v1/audit/verify': { allowed: AUDIT, ok: 200 },
  'GET /v1/audit/export': { allowed: AUDIT, ok: 200 },
  'GET /health': { allowed: 'public', ok: 200 },
  'GET /metrics': { allowed: 'public', ok: 200 },
};

function expected(row: Row, who: Who): number {
  if (row.allowed === 'public') return row.ok;
  if (who === 'none') return 401;
  return row.allowed.includes(who) ? row.ok : 403;
}

describe('e2e: role matrix (every route × every role)', () => {
  let t: TestApp;
  let port: number;
  let hostA: string;
  let hostB: string;
  let vmId: string;
  let operationId: string;
  let n = 0;

  before(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    hostA = (await registerSimHost(t, 'hv-a')).id as string;
    hostB = (await registerSimHost(t, 'hv-b')).id as string;
    const created = await createVmOp(t, { name: 'reader', hostId: hostA });
    vmId = created.accepted.vmId;
    operationId = created.accepted.operationId;
    await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 's1' });
  });
  after(async () => {
    await t?.close();
  });

  async function freshVm(setup: VmSetup): Promise<string> {
    const id = (await createVmOp(t, { name: `m-vm-${++n}`, hostId: hostA, start: setup !== 'stopped' })).accepted.vmId;
    if (setup === 'paused') await runOk(t, 'post', `/v1/vms/${id}/pause`, {});
    if (setup === 'with-snapshot') await runOk(t, 'post', `/v1/vms/${id}/snapshots`, { name: 's1' });
    return id;
  }

  function send(method: string, path: string, who: Who, body?: object): Promise<RawResponse> {
    const headers: Record<string, string> = { connection: 'close' };
    if (who !== 'none') headers.authorization = `Bearer ${TOKENS[who]}`;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return sendRaw(port, { method, path, headers, ...(payload ? { body: payload } : {}) });
  }

  const httpEvents = async () =>
    (await storeEvents(t)).filter((e) => e.metadata.causationId.startsWith('http:')).length;

  test('the matrix has a row for every route in /docs-json, and no row for a route that is gone', async () => {
    const routes = (await loadRoutes(port)).map((r) => `${r.method} ${r.template}`).sort();
    assert.deepEqual(Object.keys(MATRIX).sort(), routes, 'add the new route to MATRIX in test/e2e/role-matrix.test.ts');
  });

  for (const [key, row] of Object.entries(MATRIX)) {
    const [method, template] = key.split(' ') as [string, string];
    for (const who of WHO) {
      const status = expected(row, who);
      test(`${who} ${key} → ${status}`, async () => {
        const allowed = status === row.ok;
        const id = row.vm && allowed ? await freshVm(row.vm) : vmId;
        const kind = template.split('/')[2];
        const path = template
          .replace('{id}', kind === 'hosts' ? hostA : kind === 'operations' ? operationId : id)
          .replace('{name}', 's1');
        let body = row.body?.(++n) ?? (method === 'POST' ? {} : undefined);
        if (key === 'POST /v1/vms/{id}/migrations') body = { targetHostId: hostB };
        const before = await httpEvents();
        const res = await send(method, path, who, body);
        assert.equal(res.status, status, `${key} as ${who}: ${res.status} ${res.text.slice(0, 300)}`);
        if (!allowed) {
          const err = JSON.parse(res.text) as Record<string, unknown>;
          assert.equal(err.statusCode, status);
          assert.match(String(err.message), status === 401 ? /token/ : new RegExp(`role ${who}`));
          assert.equal(await httpEvents(), before, 'a refused request appended an event');
        } else if (status === 202) {
          const accepted = assertAccepted({
            status: res.status,
            body: JSON.parse(res.text),
            headers: res.headers,
          } as unknown as Parameters<typeof assertAccepted>[0]);
          const op = await waitOperation(t, accepted.operationId);
          assert.equal(op.status, 'succeeded', `${key} as ${who}: ${JSON.stringify(op)}`);
          assert.match(String(op.principal), new RegExp(`^${who}#`));
        }
      });
    }
  }
});
