/**
 * The role matrix: every route of /docs-json × every role (admin, operator,
 * auditor, viewer, and no token) → the status it must get, from one table.
 * Allowed calls must really succeed (each mutation gets a VM in the state it
 * needs); refused ones get 403 (401 without a token) and append nothing.
 * A route of /docs-json missing from the table fails the run: add its row. Rows
 * may name routes that other branches add; a row whose route is not served is
 * listed, not run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { startTestApp, TOKENS, waitOperation, type TestApp, type TestRole } from '../support/app.js';
import { sendRaw, type RawResponse } from '../support/fuzz-http.js';
import { loadRoutes } from '../support/fuzz-routes.js';
import { createVmOp, registerSimHost, runOk, storeEvents } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { tokenOf, writeAuthFile } from '../support/users.js';
import { attachOk, createVolume } from '../support/volumes.js';

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
  /** Path parameters other than the ids the test owns. */
  params?: Record<string, string>;
  /** A raw (application/octet-stream) body instead of JSON: an image upload. */
  raw?: () => Buffer;
  /** A volume route: a fresh volume on host A for each allowed call (`attached`: to the fresh VM). */
  volume?: 'fresh' | 'attached';
}

/** A placeholder volume id in bodies; the check puts the real one in. */
const SOME_VOLUME = '00000000-0000-4000-8000-000000000000';

/** The smallest raw disk the catalog takes: one sector with an MBR boot signature. */
function mbrDisk(): Buffer {
  const b = Buffer.alloc(512);
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
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
  'PATCH /v1/hosts/{id}': { allowed: ['admin'], ok: 200, body: (n) => ({ labels: { rack: `r${n}` } }) },
  // Host A still has VMs: an admin gets past the role check to the 409 naming them.
  'DELETE /v1/hosts/{id}': { allowed: ['admin'], ok: 409 },
  'POST /v1/hosts/{id}/drain': { allowed: ['admin'], ok: 200 },
  'POST /v1/hosts/{id}/evacuate': { allowed: ['admin'], ok: 202 },
  // Host A's worker heartbeats: an admin gets past the role check to the 409 (only an unreachable host is fenced).
  'POST /v1/hosts/{id}/fence': { allowed: ['admin'], ok: 409 },
  'POST /v1/hosts/{id}/restore': { allowed: ['admin'], ok: 200 },
  // Without If-Match (this table sends none): past the role check to the 400 naming it.
  'PATCH /v1/vms/{id}': { allowed: MUTATORS, ok: 400, vm: 'stopped', body: () => ({ vcpus: 2 }) },
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
  // A plain GET (no Upgrade header) gets past the checks to the 426 naming the WebSocket; every role may watch.
  'GET /v1/vms/{id}/console': { allowed: ALL, ok: 426 },
  'POST /v1/vms/{id}/console/ticket': { allowed: ALL, ok: 201 },
  // The matrix's VM runs on a simulated host, whose driver has no console: past the role check to the 422.
  'GET /v1/vms/{id}/console/log': { allowed: ALL, ok: 422 },
  'GET /v1/vms/{id}/diff': { allowed: ['admin', 'operator', 'auditor'], ok: 200 },
  'GET /v1/vms/{id}/why': { allowed: ['admin', 'operator', 'auditor'], ok: 200 },
  'GET /v1/fleet': { allowed: ALL, ok: 200 },
  'POST /v1/vms/{id}/snapshots/{name}/revert': { allowed: MUTATORS, ok: 202, vm: 'with-snapshot' },
  'DELETE /v1/vms/{id}/snapshots/{name}': { allowed: MUTATORS, ok: 202, vm: 'with-snapshot' },
  'POST /v1/vms/{id}/migrations': { allowed: MUTATORS, ok: 202, vm: 'running' },
  'GET /v1/operations': { allowed: ALL, ok: 200 },
  'GET /v1/operations/{id}': { allowed: ALL, ok: 200 },
  // The operation the matrix reads has finished: cancelling it is a 409 for whoever may cancel.
  'DELETE /v1/operations/{id}': { allowed: MUTATORS, ok: 409 },
  'GET /v1/queues': { allowed: MUTATORS, ok: 200 },
  'GET /v1/queues/{host}/failed': { allowed: MUTATORS, ok: 200 },
  // No job of the matrix's host ever fails: whoever may act gets past the role check to the 404
  // (test/api/queue-actions.test.ts acts on real failed jobs).
  'POST /v1/queues/{host}/failed/{job}/retry': { allowed: MUTATORS, ok: 404, params: { job: 'no-such-job' } },
  'DELETE /v1/queues/{host}/failed/{job}': { allowed: MUTATORS, ok: 404, params: { job: 'no-such-job' } },
  // The results stream spans every project: the AUTH_TOKENS operator acts in `default` only, so it is
  // refused like a viewer (an operator of every project may: test/api/dead-results.test.ts).
  'GET /v1/queues/results': { allowed: ['admin'], ok: 200 },
  'GET /v1/queues/results/dead': { allowed: ['admin'], ok: 200 },
  'POST /v1/queues/results/dead/{id}/retry': { allowed: ['admin'], ok: 404, params: { id: '1-0' } },
  'DELETE /v1/queues/results/dead/{id}': { allowed: ['admin'], ok: 404, params: { id: '1-0' } },
  'GET /v1/vms/{id}/events': { allowed: ['admin', 'operator', 'auditor'], ok: 200 },
  'GET /v1/events': { allowed: AUDIT, ok: 200 },
  'GET /v1/events/stream': { allowed: AUDIT, ok: 200 },
  'GET /v1/audit/verify': { allowed: AUDIT, ok: 200 },
  'GET /v1/audit/export': { allowed: AUDIT, ok: 200 },
  'GET /v1/audit/seals': { allowed: AUDIT, ok: 200 },
  'GET /v1/audit/seals/key': { allowed: AUDIT, ok: 200 },
  // Without ?position= there is no event to prove: an auditor gets past the role check to the 404.
  'GET /v1/audit/proof': { allowed: AUDIT, ok: 404 },
  'GET /v1/audit/replay-check': { allowed: AUDIT, ok: 200 },
  'GET /v1/projections': { allowed: ALL, ok: 200 },
  'POST /v1/projections/{name}/rebuild': { allowed: ['admin'], ok: 202, params: { name: 'vms' } },
  'POST /v1/projects': { allowed: ['admin'], ok: 201, body: (n) => ({ name: `p-${n}`, quotas: { vms: 100 } }) },
  'GET /v1/projects': { allowed: ALL, ok: 200 },
  'GET /v1/projects/{name}': { allowed: ALL, ok: 200, params: { name: 'default' } },
  'PATCH /v1/projects/{name}': {
    allowed: ['admin'],
    ok: 200,
    params: { name: 'default' },
    body: () => ({ quotas: { diskGiB: 100000 } }),
  },
  // Each allowed upload gets a fresh name (see check); GET reads s1, DELETE deletes m-del (uploaded in before()).
  'PUT /v1/images/{name}': { allowed: ['admin'], ok: 201, raw: mbrDisk },
  'GET /v1/images': { allowed: ALL, ok: 200 },
  'GET /v1/images/{name}': { allowed: ALL, ok: 200 },
  'DELETE /v1/images/{name}': { allowed: ['admin'], ok: 204, params: { name: 'm-del' } },
  'POST /v1/placement-groups': {
    allowed: MUTATORS,
    ok: 201,
    body: (n) => ({ name: `g-${n}`, policy: 'anti-affinity', strict: true }),
  },
  'GET /v1/placement-groups': { allowed: ALL, ok: 200 },
  'GET /v1/placement-groups/{id}': { allowed: ALL, ok: 200 },
  // The group has a member (created in before()): a mutator gets past the role check to the 409 naming it.
  'DELETE /v1/placement-groups/{id}': { allowed: MUTATORS, ok: 409 },
  // Networks are shared: only an all-projects principal changes them. DELETE hits the network a VM uses: 409.
  'POST /v1/networks': {
    allowed: ['admin'],
    ok: 201,
    body: (n) => ({ name: `m-net-${n}`, cidr: `10.77.${n % 250}.0/24` }),
  },
  'GET /v1/networks': { allowed: ALL, ok: 200 },
  'GET /v1/networks/{id}': { allowed: ALL, ok: 200 },
  'DELETE /v1/networks/{id}': { allowed: ['admin'], ok: 409 },
  'POST /v1/volumes': { allowed: MUTATORS, ok: 202, body: (n) => ({ name: `v-${n}`, sizeGiB: 1 }) },
  'GET /v1/volumes': { allowed: ALL, ok: 200 },
  'GET /v1/volumes/{id}': { allowed: ALL, ok: 200 },
  'PATCH /v1/volumes/{id}': { allowed: MUTATORS, ok: 202, volume: 'fresh', body: () => ({ sizeGiB: 2 }) },
  'DELETE /v1/volumes/{id}': { allowed: MUTATORS, ok: 202, volume: 'fresh' },
  'POST /v1/vms/{id}/volumes': {
    allowed: MUTATORS,
    ok: 202,
    vm: 'running',
    volume: 'fresh',
    body: () => ({ volumeId: SOME_VOLUME }),
  },
  'DELETE /v1/vms/{id}/volumes/{volumeId}': { allowed: MUTATORS, ok: 202, vm: 'running', volume: 'attached' },
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
  let groupId: string;
  let networkId: string;
  let volumeId: string;
  let n = 0;

  const dir = tempDir('vl-matrix-');
  /** Tenants of another project: every VM and operation id of `default` must read as missing to them. */
  const TENANTS = { tenant: 'operator', 'tenant-viewer': 'viewer' } as const;

  before(async () => {
    const authFile = writeAuthFile(
      dir.dir,
      Object.entries(TENANTS).map(([name, role]) => ({ name, role, projects: ['other'] })),
    );
    t = await startTestApp({ env: { AUTH_FILE: authFile } });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    hostA = (await registerSimHost(t, 'hv-a')).id as string;
    hostB = (await registerSimHost(t, 'hv-b')).id as string;
    const created = await createVmOp(t, { name: 'reader', hostId: hostA });
    vmId = created.accepted.vmId;
    operationId = created.accepted.operationId;
    await runOk(t, 'post', `/v1/vms/${vmId}/snapshots`, { name: 's1' });
    const group = await t.as('operator').post('/v1/placement-groups', { name: 'g', policy: 'affinity', strict: false });
    assert.equal(group.status, 201, JSON.stringify(group.body));
    groupId = group.body.id as string;
    await createVmOp(t, { name: 'member', placementGroupId: groupId });
    const net = await t.as('admin').post('/v1/networks', { name: 'm-net', cidr: '172.31.0.0/24' });
    assert.equal(net.status, 201, JSON.stringify(net.body));
    networkId = net.body.id as string;
    await createVmOp(t, { name: 'on-net', hostId: hostA, nics: [{ networkId }] });
    volumeId = await createVolume(t, { name: 'reader', sizeGiB: 1, hostId: hostA });
    for (const name of ['s1', 'm-del']) {
      const up = await sendRaw(port, {
        method: 'PUT',
        path: `/v1/images/${name}`,
        headers: {
          authorization: `Bearer ${TOKENS.admin}`,
          'content-type': 'application/octet-stream',
          'content-length': '512',
          connection: 'close',
        },
        body: mbrDisk(),
      });
      assert.equal(up.status, 201, up.text);
    }
  });
  after(async () => {
    await t?.close();
    dir.cleanup();
  });

  async function freshVm(setup: VmSetup): Promise<string> {
    const id = (await createVmOp(t, { name: `m-vm-${++n}`, hostId: hostA, start: setup !== 'stopped' })).accepted.vmId;
    if (setup === 'paused') await runOk(t, 'post', `/v1/vms/${id}/pause`, {});
    if (setup === 'with-snapshot') await runOk(t, 'post', `/v1/vms/${id}/snapshots`, { name: 's1' });
    return id;
  }

  async function freshVolume(attachTo?: string): Promise<string> {
    const id = await createVolume(t, { name: `m-vol-${++n}`, sizeGiB: 1, hostId: hostA });
    if (attachTo) await attachOk(t, attachTo, id);
    return id;
  }

  function send(method: string, path: string, who: Who, body?: object, token?: string): Promise<RawResponse> {
    const headers: Record<string, string> = { connection: 'close' };
    if (token) headers.authorization = `Bearer ${token}`;
    else if (who !== 'none') headers.authorization = `Bearer ${TOKENS[who]}`;
    const raw = Buffer.isBuffer(body);
    const payload = body === undefined ? undefined : raw ? body : Buffer.from(JSON.stringify(body));
    if (payload) {
      headers['content-type'] = raw ? 'application/octet-stream' : 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return sendRaw(port, { method, path, headers, ...(payload ? { body: payload } : {}) });
  }

  const httpEvents = async () =>
    (await storeEvents(t)).filter((e) => e.metadata.causationId.startsWith('http:')).length;

  /** One role's call of one route, checked against the matrix. */
  async function check(key: string, row: Row, who: Who): Promise<void> {
    const [method, template] = key.split(' ') as [string, string];
    const status = expected(row, who);
    const allowed = status === row.ok;
    const id = row.vm && allowed ? await freshVm(row.vm) : vmId;
    const kind = template.split('/')[2];
    const volume = row.volume && allowed ? await freshVolume(row.volume === 'attached' ? id : undefined) : volumeId;
    const ids: Record<string, string> = {
      hosts: hostA,
      operations: operationId,
      networks: networkId,
      'placement-groups': groupId,
      volumes: volume,
    };
    // A row's own params first: they may name `{id}` too (a dead-lettered result's id is no VM's).
    let path = template;
    for (const [name, value] of Object.entries(row.params ?? {})) path = path.replace(`{${name}}`, value);
    path = path.replace('{id}', ids[kind ?? ''] ?? id);
    for (const [name, value] of Object.entries({ name: 's1', host: hostA, volumeId: volume }))
      path = path.replace(`{${name}}`, value);
    let body: object | undefined = row.raw?.() ?? row.body?.(++n) ?? (method === 'POST' ? {} : undefined);
    if (body && 'volumeId' in body) body = { ...body, volumeId: volume };
    if (row.raw) path = path.replace('/s1', `/m-img-${++n}`);
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
      const accepted = JSON.parse(res.text) as { operationId?: unknown };
      assert.equal(typeof accepted.operationId, 'string', res.text);
      assert.equal(res.headers.location, `/v1/operations/${String(accepted.operationId)}`);
      if (row.vm || row.volume || key === 'POST /v1/vms' || key === 'POST /v1/volumes') {
        const op = await waitOperation(t, accepted.operationId as string);
        assert.equal(op.status, 'succeeded', `${key} as ${who}: ${JSON.stringify(op)}`);
        assert.match(String(op.principal), new RegExp(`^${who}#`));
      }
    }
  }

  test('every route in /docs-json × every role gets what the matrix says', async (s) => {
    const served = (await loadRoutes(port)).map((r) => `${r.method} ${r.template}`).sort();
    const missing = served.filter((k) => !(k in MATRIX));
    assert.deepEqual(missing, [], 'add these routes to MATRIX in test/api/role-matrix.test.ts');
    const notServed = Object.keys(MATRIX).filter((k) => !served.includes(k));
    if (notServed.length) s.diagnostic(`rows for routes this build does not serve: ${notServed.join(', ')}`);
    for (const key of served) {
      const row = MATRIX[key]!;
      for (const who of WHO) await s.test(`${who} ${key} → ${expected(row, who)}`, () => check(key, row, who));
    }
  });

  test('every VM, volume and operation route × a tenant of another project: 404 like a missing id, nothing appended', async (s) => {
    const served = (await loadRoutes(port)).map((r) => `${r.method} ${r.template}`).sort();
    const scoped = served.filter((k) => /^\S+ \/v1\/(vms|operations|placement-groups|volumes)\/\{id\}/.test(k));
    assert.ok(scoped.length > 10, scoped.join(', '));
    for (const key of scoped) {
      const row = MATRIX[key]!;
      for (const [name, role] of Object.entries(TENANTS)) {
        const status = row.allowed === 'public' || row.allowed.includes(role) ? 404 : 403;
        await s.test(`${name} (${role} of other) ${key} → ${status}`, async () => {
          const [method, template] = key.split(' ') as [string, string];
          const path = template
            .replace(
              '{id}',
              key.includes('/operations/')
                ? operationId
                : key.includes('/placement-groups/')
                  ? groupId
                  : key.includes('/volumes/{id}')
                    ? volumeId
                    : vmId,
            )
            .replace('{name}', 's1')
            .replace('{volumeId}', volumeId);
          let body = row.body?.(++n) ?? (method === 'POST' ? {} : undefined);
          if (body && 'volumeId' in body) body = { ...body, volumeId };
          if (key === 'POST /v1/vms/{id}/migrations') body = { targetHostId: hostB };
          const before = await httpEvents();
          const res = await send(method, path, role, body, tokenOf(name));
          assert.equal(res.status, status, `${key} as ${name}: ${res.status} ${res.text.slice(0, 300)}`);
          assert.equal(await httpEvents(), before, 'a refused request appended an event');
        });
      }
    }
  });
});
