/**
 * Idempotency-Key replays the first answer for the same key and request, and
 * refuses the same key with another request; If-Match guards a command with
 * the revision the client last saw.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { RequestMethod } from '@nestjs/common';
import { INTERCEPTORS_METADATA, METHOD_METADATA } from '@nestjs/common/constants.js';
import { ModulesContainer } from '@nestjs/core';
import { IdempotencyInterceptor } from '../../src/http/idempotency.interceptor.js';
import { logLength, settledLogLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertAccepted, assertError, countEvents, createVmOp, getVm, registerSimHost, runOk } from '../support/e2e.js';

const BODY = { name: 'idem-1', vcpus: 1, memoryMiB: 64, diskGiB: 1 };

describe('e2e: Idempotency-Key and If-Match', () => {
  let t: TestApp;
  let hostId: string;
  const creates = () => countEvents(t, (e) => e.type === 'VmCreateRequested');

  before(async () => {
    t = await startTestApp();
    hostId = (await registerSimHost(t, 'hv-1')).id as string;
  });
  after(async () => {
    await t?.close();
  });

  test('same key, same body, twice: one operation, the same answer replayed', async () => {
    const key = `create-${randomUUID()}`;
    const before = await creates();
    const first = await t
      .as('operator')
      .post('/v1/vms', { ...BODY, hostId })
      .set('Idempotency-Key', key);
    const a = assertAccepted(first);
    const second = await t
      .as('operator')
      .post('/v1/vms', { ...BODY, hostId })
      .set('Idempotency-Key', key);
    assert.equal(second.status, first.status);
    assert.deepEqual(second.body, first.body);
    assert.equal(second.headers.location, first.headers.location);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(await creates(), before + 1, 'only one VmCreateRequested');

    // Same body with the keys in another order is the same request.
    const reordered = await t
      .as('operator')
      .post('/v1/vms', { diskGiB: 1, hostId, memoryMiB: 64, vcpus: 1, name: 'idem-1' })
      .set('Idempotency-Key', key);
    assert.equal(reordered.status, 202);
    assert.deepEqual(reordered.body, first.body);

    // The replay also works once the operation is done, and is still the same answer.
    const op = await waitOperation(t, a.operationId);
    assert.equal(op.status, 'succeeded');
    const third = await t
      .as('operator')
      .post('/v1/vms', { ...BODY, hostId })
      .set('Idempotency-Key', key);
    assert.equal(third.status, 202);
    assert.deepEqual(third.body, first.body);
    assert.equal(await creates(), before + 1);

    const list = await t.as('viewer').get('/v1/vms');
    assert.equal((list.body.items as Array<{ name: string }>).filter((v) => v.name === 'idem-1').length, 1);
  });

  test('same key with a different body → 422, nothing appended', async () => {
    const key = `create-${randomUUID()}`;
    const first = assertAccepted(
      await t
        .as('operator')
        .post('/v1/vms', { ...BODY, name: 'idem-2', hostId })
        .set('Idempotency-Key', key),
    );
    await waitOperation(t, first.operationId);
    const before = await settledLogLength(t);
    const other = await t
      .as('operator')
      .post('/v1/vms', { ...BODY, name: 'idem-2', vcpus: 2, hostId })
      .set('Idempotency-Key', key);
    assertError(other, 422, 'Idempotency-Key');
    // The same key on another route is another request too.
    const vms = await t.as('viewer').get('/v1/vms');
    const anyVm = (vms.body.items as Array<{ id: string }>)[0]!.id;
    assertError(await t.as('operator').post(`/v1/vms/${anyVm}/stop`, {}).set('Idempotency-Key', key), 422);
    assert.equal(await logLength(t), before);
  });

  test('a refused request stores nothing under its key: fixed and retried with the same key, it is accepted', async () => {
    const key = `create-${randomUUID()}`;
    const bad = await t
      .as('operator')
      .post('/v1/vms', { ...BODY, name: 'idem-3', hostId: 'no-such-host' })
      .set('Idempotency-Key', key);
    assertError(bad, 404, 'hostId');
    const before = await creates();
    const good = await t
      .as('operator')
      .post('/v1/vms', { ...BODY, name: 'idem-3', hostId })
      .set('Idempotency-Key', key);
    const acc = assertAccepted(good);
    assert.equal(await creates(), before + 1);
    // From now on the key answers the accepted request.
    const replay = await t
      .as('operator')
      .post('/v1/vms', { ...BODY, name: 'idem-3', hostId })
      .set('Idempotency-Key', key);
    assert.deepEqual(replay.body, { operationId: acc.operationId, vmId: acc.vmId });
    assert.equal(await creates(), before + 1);
  });

  test('keys are per principal: the same key from two tokens is two requests', async () => {
    const key = `shared-${randomUUID()}`;
    const before = await creates();
    const a = assertAccepted(
      await t
        .as('operator')
        .post('/v1/vms', { ...BODY, name: 'idem-4', hostId })
        .set('Idempotency-Key', key),
    );
    const b = assertAccepted(
      await t
        .as('admin')
        .post('/v1/vms', { ...BODY, name: 'idem-4', hostId })
        .set('Idempotency-Key', key),
    );
    assert.notEqual(a.operationId, b.operationId);
    assert.equal(await creates(), before + 2);
  });

  test('10 concurrent requests with one key: one operation; every 202 carries it, the others are 409', async () => {
    const key = `burst-${randomUUID()}`;
    const before = await creates();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        t
          .as('operator')
          .post('/v1/vms', { ...BODY, name: 'idem-5', hostId })
          .set('Idempotency-Key', key),
      ),
    );
    const ok = answers.filter((r) => r.status === 202);
    assert.ok(ok.length >= 1, answers.map((r) => r.status).join(','));
    assert.equal(new Set(ok.map((r) => r.body.operationId)).size, 1);
    for (const r of answers.filter((x) => x.status !== 202)) assertError(r, 409, /Idempotency-Key/);
    assert.equal(await creates(), before + 1);
  });

  test('If-Match: a stale ETag → 412 and nothing appended; the current one → 202', async () => {
    const { accepted } = await createVmOp(t, { name: 'guarded', hostId });
    const vmId = accepted.vmId;
    const first = await t.as('viewer').get(`/v1/vms/${vmId}`);
    const stale = first.headers.etag as string;
    assert.equal(stale, `"${first.body.revision}"`);

    // Someone else changes the VM.
    await runOk(t, 'post', `/v1/vms/${vmId}/stop`, {});
    const before = await settledLogLength(t);
    const refused = await t.as('operator').post(`/v1/vms/${vmId}/start`, {}).set('If-Match', stale);
    assertError(refused, 412);
    assert.equal(await logLength(t), before, 'nothing appended');
    assert.equal((await getVm(t, vmId)).state, 'stopped');

    const current = await t.as('viewer').get(`/v1/vms/${vmId}`);
    assert.notEqual(current.headers.etag, stale);
    const res = await t
      .as('operator')
      .post(`/v1/vms/${vmId}/start`, {})
      .set('If-Match', current.headers.etag as string);
    const acc = assertAccepted(res, vmId);
    assert.equal((await waitOperation(t, acc.operationId)).status, 'succeeded');
    assert.equal((await getVm(t, vmId)).state, 'running');

    // Weak form and DELETE too.
    const now = await t.as('viewer').get(`/v1/vms/${vmId}`);
    assertError(await t.as('operator').delete(`/v1/vms/${vmId}`).set('If-Match', `W/${stale}`), 412);
    const del = await t
      .as('operator')
      .delete(`/v1/vms/${vmId}`)
      .set('If-Match', `W/${now.headers.etag as string}`);
    assertAccepted(del, vmId);
  });
  test('every POST and DELETE route Nest serves takes an Idempotency-Key (bound on the route); no GET route is', () => {
    const routes: Array<{ route: string; verb: RequestMethod; interceptors: unknown[] }> = [];
    for (const mod of t.app.get(ModulesContainer).values()) {
      for (const { metatype } of mod.controllers.values()) {
        if (!metatype) continue;
        const proto = metatype.prototype as Record<string, unknown>;
        for (const name of Object.getOwnPropertyNames(proto)) {
          const fn = proto[name];
          if (typeof fn !== 'function') continue;
          const verb = Reflect.getMetadata(METHOD_METADATA, fn) as RequestMethod | undefined;
          if (verb === undefined) continue;
          const interceptors = (Reflect.getMetadata(INTERCEPTORS_METADATA, fn) ?? []) as unknown[];
          routes.push({ route: `${metatype.name}.${name}`, verb, interceptors });
        }
      }
    }
    const commands = routes.filter((r) => r.verb === RequestMethod.POST || r.verb === RequestMethod.DELETE);
    assert.ok(commands.length >= 30, `${commands.length} command routes found`);
    for (const r of commands)
      assert.ok(r.interceptors.includes(IdempotencyInterceptor), `${r.route}: no Idempotency-Key`);
    for (const r of routes.filter((x) => x.verb === RequestMethod.GET))
      assert.deepEqual(r.interceptors, [], `${r.route} is bound to an interceptor`);
  });
});
