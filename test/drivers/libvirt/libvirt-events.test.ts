import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVm, registerHost, startTestApp, type TestApp } from '../../support/app.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  LibvirtTestEnv,
  qemuPidsOf,
  virshSync,
  type LibvirtDaemons,
} from './libvirt-test-env.js';
import { waitUntil } from '../../support/e2e.js';

const skip = libvirtSkipReason() ?? false;

/**
 * The app (API, sagas, projections, an in-process worker) with a libvirt host on a real
 * libvirtd. The periodic sweep is set to 10 minutes, so a state change seen within seconds can
 * only have come through the driver's `virsh event` feed and the reconciler's watch hook.
 */
describe(
  'libvirt domain events feed reconciliation (real app, worker and libvirtd)',
  { skip, timeout: 300_000 },
  () => {
    let t: TestApp;
    let daemons: LibvirtDaemons;
    let env: LibvirtTestEnv;
    let hostId: string;

    before(async () => {
      daemons = ensureDaemons();
      env = new LibvirtTestEnv('vl-lve2e-');
      t = await startTestApp({ env: { RECONCILE_INTERVAL_MS: '600000', RECONCILE_STUCK_MS: '600000' } });
      hostId = await registerHost(t, {
        name: 'lv-e2e',
        driver: 'libvirt',
        uri: `${daemons.uri}?storage=${env.root}/storage&stopTimeoutMs=3000&domainType=qemu`,
        capacity: { vcpus: 8, memoryMiB: 4096 },
      });
    });
    after(async () => {
      try {
        await t?.close();
      } finally {
        try {
          await env?.cleanup(daemons ? [daemons.uri] : []);
        } finally {
          daemons?.stop();
        }
      }
    });

    async function vmState(vmId: string): Promise<string> {
      return (await t.as('viewer').get(`/v1/vms/${vmId}`)).body.state as string;
    }

    test('a VM destroyed with virsh outside the service becomes stopped within seconds', async () => {
      const { vmId, operation } = await createVm(t, { hostId, name: 'ev-1', memoryMiB: 64 });
      assert.equal(operation.status, 'succeeded', JSON.stringify(operation));
      assert.equal(await vmState(vmId), 'running');
      assert.match(virshSync(daemons.uri, ['domstate', `vl-${vmId}`]), /running/);

      const t0 = Date.now();
      virshSync(daemons.uri, ['destroy', `vl-${vmId}`]);
      await waitUntil('VM crashed by the event', async () => (await vmState(vmId)) === 'crashed', 30_000);
      const took = Date.now() - t0;
      console.log(`timing outside destroy -> VM stopped in the read model: ${took} ms`);
      const events = (await t.as('auditor').get(`/v1/vms/${vmId}/events`)).body.items as Array<{
        type: string;
        metadata: { principal: string };
      }>;
      const last = events.at(-1)!;
      assert.match(last.metadata.principal, /^system:reconciler@/, JSON.stringify(last));

      // And the service carries on from the observed state: start works again.
      const start = await t.as('operator').post(`/v1/vms/${vmId}/start`);
      assert.equal(start.status, 202);
      await waitUntil('running again', async () => (await vmState(vmId)) === 'running', 60_000);
    });

    test('a VM whose QEMU is killed with SIGKILL becomes VmCrashed', async () => {
      const { vmId } = await createVm(t, { hostId, name: 'ev-2', memoryMiB: 64 });
      assert.equal(await vmState(vmId), 'running');
      const pids = qemuPidsOf(`vl-${vmId}`);
      assert.equal(pids.length, 1);
      process.kill(pids[0]!, 'SIGKILL');
      await waitUntil('VM crashed after the kill', async () => (await vmState(vmId)) === 'crashed', 30_000);
      const events = (await t.as('auditor').get(`/v1/vms/${vmId}/events`)).body.items as Array<{ type: string }>;
      assert.ok(
        events.some((e) => e.type === 'VmCrashed'),
        events.map((e) => e.type).join(', '),
      );

      // Deleting through the API removes the domain from libvirt.
      const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
      assert.equal(del.status, 202);
      await waitUntil('VM deleted', async () => (await vmState(vmId)) === 'deleted', 60_000);
      assert.doesNotMatch(virshSync(daemons.uri, ['list', '--all', '--name']), new RegExp(`vl-${vmId}`));
    });
  },
);
