/**
 * Bad input is refused with the right 4xx, the v1 error shape, the offending
 * field named, and nothing appended to the log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Test } from 'supertest';
import { logLength, settledLogLength, startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { assertError, createVmOp, getVm, registerSimHost, type Json } from '../support/e2e.js';

const GOOD_VM = { name: 'ok-vm', vcpus: 1, memoryMiB: 64, diskGiB: 1 };
const GOOD_HOST = { name: 'hv-x', driver: 'simulated', uri: 'simulated://', capacity: { vcpus: 4, memoryMiB: 4096 } };

interface Case {
  name: string;
  send: () => Test;
  status: number;
  /** Field(s) the error must name. */
  fields?: Array<string | RegExp>;
}

describe('e2e: bad input is refused and appends nothing', () => {
  let t: TestApp;
  let vmId: string;
  let operationId: string;

  before(async () => {
    t = await startTestApp();
    await registerSimHost(t, 'hv-1');
    const created = await createVmOp(t, { name: 'target' });
    assert.equal(created.operation.status, 'succeeded');
    vmId = created.accepted.vmId;
    operationId = created.accepted.operationId;
  });
  after(async () => {
    await t?.close();
  });

  const op = () => t.as('operator');
  /** A POST whose body is sent as is (not serialized by supertest). */
  const raw = (path: string, body: string) =>
    t
      .http()
      .post(path)
      .set('Authorization', `Bearer ${TOKENS.operator}`)
      .set('Content-Type', 'application/json')
      .send(body);
  const unknownVm = randomUUID();

  const cases: Case[] = [
    // ---- POST /v1/vms body
    {
      name: 'create: missing name',
      send: () => op().post('/v1/vms', { vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
      status: 400,
      fields: ['name'],
    },
    {
      name: 'create: empty body names every required field',
      send: () => op().post('/v1/vms', {}),
      status: 400,
      fields: ['name', 'vcpus', 'memoryMiB', 'diskGiB'],
    },
    {
      name: 'create: vcpus as a string',
      send: () => op().post('/v1/vms', { ...GOOD_VM, vcpus: '2' }),
      status: 400,
      fields: ['vcpus'],
    },
    {
      name: 'create: negative vcpus',
      send: () => op().post('/v1/vms', { ...GOOD_VM, vcpus: -1 }),
      status: 400,
      fields: ['vcpus'],
    },
    {
      name: 'create: zero vcpus',
      send: () => op().post('/v1/vms', { ...GOOD_VM, vcpus: 0 }),
      status: 400,
      fields: ['vcpus'],
    },
    {
      name: 'create: fractional vcpus',
      send: () => op().post('/v1/vms', { ...GOOD_VM, vcpus: 1.5 }),
      status: 400,
      fields: ['vcpus'],
    },
    {
      name: 'create: memoryMiB below the minimum',
      send: () => op().post('/v1/vms', { ...GOOD_VM, memoryMiB: 1 }),
      status: 400,
      fields: ['memoryMiB'],
    },
    {
      name: 'create: diskGiB null',
      send: () => op().post('/v1/vms', { ...GOOD_VM, diskGiB: null }),
      status: 400,
      fields: ['diskGiB'],
    },
    {
      name: 'create: unknown field',
      send: () => op().post('/v1/vms', { ...GOOD_VM, color: 'red' }),
      status: 400,
      fields: ['color'],
    },
    {
      name: 'create: name with a space',
      send: () => op().post('/v1/vms', { ...GOOD_VM, name: 'bad name' }),
      status: 400,
      fields: ['name'],
    },
    {
      name: 'create: name with a slash',
      send: () => op().post('/v1/vms', { ...GOOD_VM, name: '../etc' }),
      status: 400,
      fields: ['name'],
    },
    {
      name: 'create: start not a boolean',
      send: () => op().post('/v1/vms', { ...GOOD_VM, start: 'yes' }),
      status: 400,
      fields: ['start'],
    },
    {
      name: 'create: reason too long',
      send: () => op().post('/v1/vms', { ...GOOD_VM, reason: 'x'.repeat(501) }),
      status: 400,
      fields: ['reason'],
    },
    {
      name: 'create: body over 64kb',
      send: () => op().post('/v1/vms', { ...GOOD_VM, reason: 'x'.repeat(70 * 1024) }),
      status: 413,
    },
    {
      name: 'create: malformed JSON',
      send: () => raw('/v1/vms', '{"name": "x", '),
      status: 400,
      fields: [/JSON/],
    },
    {
      name: 'create: a JSON array instead of an object',
      send: () => raw('/v1/vms', '[1,2]'),
      status: 400,
    },
    {
      name: 'create: unknown hostId (named)',
      send: () => op().post('/v1/vms', { ...GOOD_VM, hostId: 'no-such-host' }),
      status: 404,
      fields: ['hostId'],
    },
    {
      name: 'create: hostId not an id',
      send: () => op().post('/v1/vms', { ...GOOD_VM, hostId: '../../x' }),
      status: 400,
      fields: ['hostId'],
    },

    // ---- POST /v1/hosts body
    {
      name: 'host: capacity.vcpus as a string',
      send: () => t.as('admin').post('/v1/hosts', { ...GOOD_HOST, capacity: { vcpus: '4', memoryMiB: 4096 } }),
      status: 400,
      fields: ['capacity.vcpus'],
    },
    {
      name: 'host: capacity missing',
      send: () => t.as('admin').post('/v1/hosts', { name: 'h', driver: 'simulated', uri: 'simulated://' }),
      status: 400,
      fields: ['capacity'],
    },
    {
      name: 'host: unknown driver',
      send: () => t.as('admin').post('/v1/hosts', { ...GOOD_HOST, driver: 'vmware' }),
      status: 400,
      fields: ['driver'],
    },
    {
      name: 'host: URI the driver refuses (typo in a parameter)',
      send: () => t.as('admin').post('/v1/hosts', { ...GOOD_HOST, uri: 'simulated://?failurerate=1' }),
      status: 400,
      fields: ['uri'],
    },
    {
      name: 'host: unknown field',
      send: () => t.as('admin').post('/v1/hosts', { ...GOOD_HOST, rack: 7 }),
      status: 400,
      fields: ['rack'],
    },

    // ---- unknown / malformed VM ids
    { name: 'GET unknown VM id', send: () => t.as('viewer').get(`/v1/vms/${unknownVm}`), status: 404 },
    { name: 'GET non-uuid VM id', send: () => t.as('viewer').get('/v1/vms/not-a-uuid'), status: 404 },
    { name: 'start an unknown VM', send: () => op().post(`/v1/vms/${unknownVm}/start`, {}), status: 404 },
    { name: 'stop a non-uuid VM id', send: () => op().post('/v1/vms/not-a-uuid/stop', {}), status: 404 },
    { name: 'delete an unknown VM', send: () => op().delete(`/v1/vms/${unknownVm}`), status: 404 },
    {
      name: 'snapshot an unknown VM',
      send: () => op().post(`/v1/vms/${unknownVm}/snapshots`, { name: 's' }),
      status: 404,
    },
    { name: 'history of a non-uuid VM id', send: () => t.as('auditor').get('/v1/vms/1234/events'), status: 404 },

    // ---- verb bodies
    {
      name: 'stop: force not a boolean',
      send: () => op().post(`/v1/vms/${vmIdRef()}/stop`, { force: 'true' }),
      status: 400,
      fields: ['force'],
    },
    {
      name: 'stop: negative timeoutMs',
      send: () => op().post(`/v1/vms/${vmIdRef()}/stop`, { timeoutMs: -5 }),
      status: 400,
      fields: ['timeoutMs'],
    },
    {
      name: 'start: unknown field',
      send: () => op().post(`/v1/vms/${vmIdRef()}/start`, { now: true }),
      status: 400,
      fields: ['now'],
    },
    {
      name: 'migrate: unknown targetHostId (named)',
      send: () => op().post(`/v1/vms/${vmIdRef()}/migrations`, { targetHostId: 'nowhere' }),
      status: 404,
      fields: ['targetHostId'],
    },
    {
      // Without a target, placement chooses one; here no other host exists, so nothing can take it.
      name: 'migrate: targetHostId missing and no other host to choose',
      send: () => op().post(`/v1/vms/${vmIdRef()}/migrations`, {}),
      status: 409,
      fields: ['targetHostId'],
    },
    {
      name: 'migrate: live not a boolean',
      send: () => op().post(`/v1/vms/${vmIdRef()}/migrations`, { targetHostId: 'x', live: 'no' }),
      status: 400,
      fields: ['live'],
    },
    {
      name: 'snapshot: bad name',
      send: () => op().post(`/v1/vms/${vmIdRef()}/snapshots`, { name: 'bad name!' }),
      status: 400,
      fields: ['name'],
    },
    {
      name: 'snapshot: name missing',
      send: () => op().post(`/v1/vms/${vmIdRef()}/snapshots`, {}),
      status: 400,
      fields: ['name'],
    },
    {
      name: 'snapshot: memory not a boolean',
      send: () => op().post(`/v1/vms/${vmIdRef()}/snapshots`, { name: 'a', memory: 1 }),
      status: 400,
      fields: ['memory'],
    },
    {
      name: 'revert: bad snapshot name in the path',
      send: () => op().post(`/v1/vms/${vmIdRef()}/snapshots/.hidden/revert`, {}),
      status: 400,
      fields: ['name'],
    },
    {
      name: 'delete snapshot: bad name in the path',
      send: () => op().delete(`/v1/vms/${vmIdRef()}/snapshots/a%20b`),
      status: 400,
      fields: ['name'],
    },
    {
      name: 'delete VM: reason too long',
      send: () => op().delete(`/v1/vms/${vmIdRef()}?reason=${'r'.repeat(501)}`),
      status: 400,
      fields: ['reason'],
    },
    {
      name: 'If-Match that is not an ETag',
      send: () => op().post(`/v1/vms/${vmIdRef()}/stop`, {}).set('If-Match', 'yesterday'),
      status: 400,
      fields: ['If-Match'],
    },

    // ---- query parameters
    {
      name: 'operation: waitMs above the maximum',
      send: () => t.as('viewer').get(`/v1/operations/${operationIdRef()}?waitMs=999999`),
      status: 400,
      fields: ['waitMs'],
    },
    {
      name: 'operation: waitMs negative',
      send: () => t.as('viewer').get(`/v1/operations/${operationIdRef()}?waitMs=-1`),
      status: 400,
      fields: ['waitMs'],
    },
    {
      name: 'operation: waitMs not a number',
      send: () => t.as('viewer').get(`/v1/operations/${operationIdRef()}?waitMs=soon`),
      status: 400,
      fields: ['waitMs'],
    },
    { name: 'operation: unknown id', send: () => t.as('viewer').get(`/v1/operations/${randomUUID()}`), status: 404 },
    { name: 'events: limit 0', send: () => t.as('auditor').get('/v1/events?limit=0'), status: 400, fields: ['limit'] },
    {
      name: 'events: limit not a number',
      send: () => t.as('auditor').get('/v1/events?limit=ten'),
      status: 400,
      fields: ['limit'],
    },
    {
      name: 'events: limit above the maximum',
      send: () => t.as('auditor').get('/v1/events?limit=100000'),
      status: 400,
      fields: ['limit'],
    },
    {
      name: 'events: negative fromPosition',
      send: () => t.as('auditor').get('/v1/events?fromPosition=-1'),
      status: 400,
      fields: ['fromPosition'],
    },
    { name: 'vms: limit 0', send: () => t.as('viewer').get('/v1/vms?limit=0'), status: 400, fields: ['limit'] },
    {
      name: 'vm history: limit not a number',
      send: () => t.as('auditor').get(`/v1/vms/${vmIdRef()}/events?limit=x`),
      status: 400,
      fields: ['limit'],
    },
    {
      name: 'vm: at is not a time',
      send: () => t.as('viewer').get(`/v1/vms/${vmIdRef()}?at=yesterday`),
      status: 400,
      fields: ['at'],
    },
    {
      name: 'vm: at is an impossible date',
      send: () => t.as('viewer').get(`/v1/vms/${vmIdRef()}?at=2024-13-45T99:00:00Z`),
      status: 400,
      fields: ['at'],
    },
    {
      name: 'vm: revision not a number',
      send: () => t.as('viewer').get(`/v1/vms/${vmIdRef()}?revision=latest`),
      status: 400,
      fields: ['revision'],
    },
  ];
  // The VM and operation exist only once `before` ran; cases are built before that.
  function vmIdRef(): string {
    return vmId;
  }
  function operationIdRef(): string {
    return operationId;
  }

  for (const c of cases) {
    test(`${c.name} → ${c.status}`, async () => {
      const before = await settledLogLength(t);
      const res = await c.send();
      assertError(res, c.status);
      for (const f of c.fields ?? []) assertError(res, c.status, f);
      assert.equal(await logLength(t), before, 'nothing appended');
    });
  }

  test('after all of that the VM is untouched and idle', async () => {
    const vm: Json = await getVm(t, vmId);
    assert.equal(vm.state, 'running');
    assert.equal(vm.pendingOperation, null);
    assert.deepEqual(vm.snapshots, []);
  });
});
