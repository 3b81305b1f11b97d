import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVm, registerHost, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { waitUntil } from '../support/e2e.js';

describe('a migration that fails is compensated: the VM runs on exactly one host (the source)', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ env: { JOB_ATTEMPTS: '2' } });
  });
  after(async () => t.close());

  for (const verb of ['migrate', 'prepareIncoming'] as const) {
    test(`${verb} fails on every attempt`, async () => {
      // failVerbs on the host that runs the failing step: the source sends, the target prepares.
      const source = await registerHost(t, {
        name: `src-${verb}`,
        uri: verb === 'migrate' ? 'simulated://?failVerbs=migrate' : 'simulated://',
      });
      const target = await registerHost(t, {
        name: `dst-${verb}`,
        uri: verb === 'prepareIncoming' ? 'simulated://?failVerbs=prepareIncoming' : 'simulated://',
      });
      const { vmId } = await createVm(t, { hostId: source });
      const res = await t.as('operator').post(`/v1/vms/${vmId}/migrations`, { targetHostId: target, live: true });
      assert.equal(res.status, 202);
      const op = await waitOperation(t, res.body.operationId);
      assert.equal(op.status, 'failed');
      assert.match(String(op.error), new RegExp(`simulated failure: ${verb}`));
      const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
      assert.equal(vm.body.state, 'running');
      assert.equal(vm.body.hostId, source);
      // The target's reservation is given back; the source keeps the VM's.
      await waitUntil('target released', async () => {
        const h = await t.as('viewer').get(`/v1/hosts/${target}`);
        return h.body.allocated.vcpus === 0;
      });
      assert.equal((await t.as('viewer').get(`/v1/hosts/${source}`)).body.allocated.vcpus, 1);
      // The driver agrees: running on the source, nothing left on the target.
      const onSource = await t.as('operator').get(`/v1/hosts/${source}/domains`);
      assert.ok(
        onSource.body.items.some((d: { vmId: string; state: string }) => d.vmId === vmId && d.state === 'running'),
      );
      await waitUntil('target cleaned', async () => {
        const onTarget = await t.as('operator').get(`/v1/hosts/${target}/domains`);
        return !onTarget.body.items.some((d: { vmId: string }) => d.vmId === vmId);
      });
      const events = await t.as('auditor').get(`/v1/vms/${vmId}/events`);
      const types: string[] = events.body.items.map((e: { type: string }) => e.type);
      assert.equal(types.filter((x) => x === 'VmOperationFailed').length, 1);
      assert.equal(types.filter((x) => x === 'VmMigrated').length, 0);
      // And the VM is usable: the next command works.
      const stop = await t.as('operator').post(`/v1/vms/${vmId}/stop`, { force: true });
      assert.equal((await waitOperation(t, stop.body.operationId)).status, 'succeeded');
    });
  }
});
