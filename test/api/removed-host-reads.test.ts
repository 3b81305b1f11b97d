/**
 * Reads the control plane can answer itself are not asked of a host's worker: a removed host
 * has none, and asking would only wait the host-query timeout for a 503 (chaos `fuzz`, seed
 * 1336051496: a fuzzed DELETE of a VM and then of its host, then GET …/domains and
 * GET …/console/log answered 503 after 5 and 10 s).
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createVm, registerHost, settledLogLength, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { assertError } from '../support/e2e.js';

describe('api: reads about a removed host or a deleted VM are answered without asking a worker', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  const deleteVm = async (vmId: string) => {
    const res = await t.as('operator').delete(`/v1/vms/${vmId}`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal((await waitOperation(t, res.body.operationId as string)).status, 'succeeded');
  };
  const removeHost = async (hostId: string) => {
    await settledLogLength(t); // the deleted or failed VM's capacity is given back first
    const res = await t.as('admin').delete(`/v1/hosts/${hostId}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  test('a deleted VM’s console log: 409 saying so; its removed host’s domains: 404', async () => {
    const hostId = await registerHost(t, { name: 'rm-reads-1' });
    const { vmId, operation } = await createVm(t, { hostId });
    assert.equal(operation.status, 'succeeded');
    // While the VM lives its host's worker is asked (the simulated driver has no console: its answer).
    assertError(await t.as('operator').get(`/v1/vms/${vmId}/console/log`), 422, /has no console/);
    await deleteVm(vmId);
    assertError(await t.as('operator').get(`/v1/vms/${vmId}/console/log`), 409, /is deleted/);
    await removeHost(hostId);
    assertError(await t.as('operator').get(`/v1/hosts/${hostId}/domains`), 404, /was removed/);
    assertError(await t.as('operator').get(`/v1/vms/${vmId}/console/log`), 409, /is deleted/);
  });

  test('a failed VM whose host was removed: its console log is a 409 naming the host', async () => {
    const hostId = await registerHost(t, { name: 'rm-reads-2', uri: 'simulated://?failVerbs=define' });
    const { vmId, operation } = await createVm(t, { hostId });
    assert.equal(operation.status, 'failed');
    await removeHost(hostId);
    assertError(
      await t.as('operator').get(`/v1/vms/${vmId}/console/log`),
      409,
      new RegExp(`host ${hostId} was removed`),
    );
  });
});
