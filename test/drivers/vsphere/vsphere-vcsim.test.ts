/**
 * The vsphere driver against vcsim beyond the shared contract: the watch feed (WaitForUpdatesEx)
 * sees a change made in vCenter by someone else, a failed task from the simulator keeps its
 * fault, and a wrong password is refused at login. Skipped, naming the missing service, when no
 * simulator can run here.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DriverError, type HypervisorDriver, type VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { createDriver } from '../../../src/drivers/driver-registry.js';
import { SoapClient } from '../../../src/drivers/vsphere/soap-client.js';
import { VsphereInventory } from '../../../src/drivers/vsphere/inventory.js';
import { TaskFailed, runTask } from '../../../src/drivers/vsphere/tasks.js';
import { parseVsphereUri, readPassword } from '../../../src/drivers/vsphere/vsphere-uri.js';
import { xsiType } from '../../../src/drivers/vsphere/xml.js';
import { waitFor } from '../libvirt/libvirt-test-env.js';
import {
  HOSTS,
  ensureVcsim,
  powerOffFromOutside,
  vcsimSkipReason,
  vsphereBinding,
  vsphereUri,
  type Vcsim,
} from './vsphere-test-env.js';

const skip = vcsimSkipReason() ?? false;

describe("vsphere driver on vcsim (VMware's simulator)", { skip }, () => {
  let sim: Vcsim;
  let uri: string;
  let d: HypervisorDriver;
  const made: VmSpec[] = [];
  const spec = (label: string): VmSpec => {
    const id = `vs-${label}-${randomUUID().slice(0, 6)}`;
    const s = { id, name: id, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
    made.push(s);
    return s;
  };

  before(() => {
    sim = ensureVcsim();
    uri = vsphereUri(sim, HOSTS[2]);
    d = createDriver(vsphereBinding('vs-h', uri, '/nonexistent'));
  });

  after(async () => {
    for (const s of made) await d?.destroy(s).catch(() => undefined);
    await d?.close();
    sim?.stop();
  });

  test('watch() reports a VM powered off in vCenter by someone else, and nothing after it is stopped', async () => {
    const vm = spec('watch');
    await d.define(vm);
    await d.start(vm);
    const seen: string[] = [];
    const errors: string[] = [];
    const stop = d.watch!(
      (id) => seen.push(id),
      (m) => errors.push(m),
    );
    try {
      // The feed is live once a change made through the driver shows up.
      await waitFor(
        'the watch to see our own start',
        async () => {
          await d.reboot(vm);
          return seen.includes(vm.id);
        },
        30_000,
      );
      seen.length = 0;
      await powerOffFromOutside(uri, vm.id);
      await waitFor('the watch to report the outside power-off', () => seen.includes(vm.id), 30_000);
      assert.equal((await d.status(vm)).state, 'stopped');
      assert.deepEqual(errors, []);
    } finally {
      stop();
    }
  });

  test("a task the simulator fails comes back as a TaskFailed with vSphere's fault type", async () => {
    const vm = spec('fail');
    await d.define(vm);
    await d.start(vm);
    const config = parseVsphereUri(uri);
    const soap = new SoapClient({
      sdkUrl: config.sdkUrl,
      user: config.user,
      password: () => readPassword(config),
      insecure: false,
      callTimeoutMs: 30_000,
    });
    try {
      const v = await new VsphereInventory(soap, config).findVm(vm.id);
      assert.ok(v);
      // Powering on a running VM: vSphere's InvalidPowerState.
      await assert.rejects(runTask(soap, 'PowerOnVM_Task', v.ref, '', `start ${vm.id}`, 30_000), (err: unknown) => {
        assert.ok(err instanceof TaskFailed, String(err));
        assert.equal(err.faultType, 'InvalidPowerState');
        assert.match(err.message, new RegExp(`^start ${vm.id}: vSphere task failed: .*\\(InvalidPowerState\\)$`));
        return true;
      });
    } finally {
      await soap.logout();
    }
  });

  test('a graceful stop asks the guest through VMware Tools (ShutdownGuest) when Tools run', async () => {
    const vm = spec('tools');
    await d.define(vm);
    await d.start(vm);
    const config = parseVsphereUri(uri);
    const soap = new SoapClient({
      sdkUrl: config.sdkUrl,
      user: config.user,
      password: () => readPassword(config),
      insecure: false,
      callTimeoutMs: 30_000,
    });
    try {
      const v = await new VsphereInventory(soap, config).findVm(vm.id);
      assert.ok(v);
      // vcsim's own knob (a SET.<property> extraConfig key) for what a guest with Tools would report.
      const tools =
        '<spec><extraConfig xsi:type="OptionValue"><key>SET.guest.toolsRunningStatus</key>' +
        '<value xsi:type="xsd:string">guestToolsRunning</value></extraConfig></spec>';
      await runTask(soap, 'ReconfigVM_Task', v.ref, tools, `tools on ${vm.id}`, 30_000);
      // A long grace: a guest that answers is off long before it, and the driver returns then.
      await d.stop(vm, { force: false, timeoutMs: 600_000 });
      assert.equal((await d.status(vm)).state, 'stopped');
      // What vCenter recorded: the guest was asked to shut down (no forced power-off).
      const em = await soap.service('eventManager');
      const res = await soap.call(
        'QueryEvents',
        em,
        `<filter><entity><entity type="VirtualMachine">${v.ref.value}</entity><recursion>self</recursion></entity></filter>`,
      );
      const types = res.children.map((e) => xsiType(e));
      assert.ok(types.includes('VmGuestShutdownEvent'), `events of ${vm.id}: ${types.join(', ')}`);
    } finally {
      await soap.logout();
    }
  });

  test('a wrong password is refused at login, naming the user, and nothing is done', async () => {
    const config = parseVsphereUri(uri);
    const soap = new SoapClient({
      sdkUrl: config.sdkUrl,
      user: config.user,
      password: () => 'not-the-password',
      insecure: false,
      callTimeoutMs: 30_000,
    });
    await assert.rejects(soap.serviceContent(), (err: unknown) => {
      assert.ok(err instanceof DriverError);
      assert.match(err.message, new RegExp(`vSphere refused the login of ${config.user} at ${config.sdkUrl}`));
      return true;
    });
  });
});
