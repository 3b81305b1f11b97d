import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { HypervisorDriver, VmSpec } from '../../src/drivers/hypervisor-driver.port.js';
import { driverCapabilities } from '../../src/drivers/driver-registry.js';
import { capabilityTests } from './driver-contract-capabilities.js';
import { refusalTests } from './driver-contract-refusals.js';
import { resizeContract } from './driver-contract-resize.js';
import {
  DriverSet,
  TEST_TIMEOUT_MS,
  assertListed,
  assertNotListed,
  assertState,
  listedAs,
  newVmId,
  rejectsWithCode,
  rejectsWithDriverError,
  undeclared,
  waitForState,
  type ContractPlan,
} from './driver-contract-support.js';

/** Long enough for a guest that does answer ACPI; a no-OS guest waits it out, then is quit. */
const GRACEFUL_MS = 1_500;

/**
 * The port's contract, verb by verb, on one driver kind: lifecycle, idempotency (a repeated
 * call as a BullMQ redelivery makes it), error codes, a process killed from outside, and each
 * capability either exercised (declared) or refused as 'unsupported' (undeclared).
 */
export function driverContract(plan: ContractPlan): void {
  const { target, main } = plan;
  const opts = { timeout: TEST_TIMEOUT_MS };

  describe('driver level (HypervisorDriver port)', () => {
    const drivers = new DriverSet();
    /** Every VM a test defined, destroyed at the end even when the test failed half-way. */
    const made: Array<{ driver: () => HypervisorDriver; spec: VmSpec }> = [];
    let a: HypervisorDriver;
    const spec = (label: string, on: () => HypervisorDriver = () => a): VmSpec => {
      const s = target.spec(newVmId(label));
      made.push({ driver: on, spec: s });
      return s;
    };

    before(() => {
      a = drivers.open(main.binding);
    });

    after(async () => {
      for (const { driver, spec: s } of made)
        await driver()
          .destroy(s)
          .catch(() => undefined);
      await drivers.closeAll();
      for (const h of [plan.main, plan.second, plan.restricted]) if (h) await target.cleanup?.(h.binding);
    });

    test('the driver is the registered kind and declares what the API checks (the registry probe of its URI)', () => {
      assert.equal(a.kind, target.kind);
      assert.deepEqual({ ...a.capabilities }, { ...driverCapabilities(target.kind, main.binding.uri) });
      const { hotResize, ...flags } = a.capabilities;
      for (const [k, v] of Object.entries(flags)) assert.equal(typeof v, 'boolean', `capability ${k}`);
      // What a running VM can change live, when the driver declares anything (see HotResizeCapabilities).
      if (hotResize) {
        for (const dim of [hotResize.vcpus, hotResize.memory]) assert.ok(['none', 'grow', 'any'].includes(dim), dim);
        assert.equal(typeof hotResize.diskGrow, 'boolean');
        assert.equal(typeof a.resizeLive, 'function', 'a driver declaring hotResize implements resizeLive');
      }
    });

    test(
      'an unknown VM: status absent, destroy and abortIncoming succeed, the other verbs are not_found',
      opts,
      async () => {
        const vm = spec('ghost');
        await assertState(a, vm, 'absent');
        await a.destroy(vm);
        await a.abortIncoming(vm);
        await rejectsWithCode(a.start(vm), 'not_found', 'start');
        await rejectsWithCode(a.stop(vm, { force: true }), 'not_found', 'stop (force)');
        await rejectsWithCode(a.stop(vm, { force: false, timeoutMs: GRACEFUL_MS }), 'not_found', 'stop');
        await rejectsWithCode(a.listSnapshots(vm), 'not_found', 'listSnapshots');
        await rejectsWithCode(a.revert(vm, 'snap'), 'not_found', 'revert');
        await rejectsWithCode(a.deleteSnapshot(vm, 'snap'), 'not_found', 'deleteSnapshot');
        if (main.capabilities.diskSnapshots) {
          await rejectsWithCode(a.snapshot(vm, 'snap', { memory: false }), 'not_found', 'snapshot');
        }
        if (main.capabilities.pause) {
          await rejectsWithCode(a.pause(vm), 'not_found', 'pause');
          await rejectsWithCode(a.resume(vm), 'not_found', 'resume');
        }
        if (main.capabilities.reboot) await rejectsWithCode(a.reboot(vm), 'not_found', 'reboot');
        // Finishing a migration nobody prepared must never pass for a success.
        const live = main.capabilities.liveMigration || !main.capabilities.coldMigration;
        await rejectsWithDriverError(a.finishIncoming(vm, { live }), 'finishIncoming without prepareIncoming');
        // None of the refused verbs may have left anything behind.
        await assertState(a, vm, 'absent');
        await assertNotListed(a, vm.id);
      },
    );

    test('define, start, stop (graceful, then force), destroy: each repeated, listDomains agrees', opts, async () => {
      const vm = spec('life');
      await assertNotListed(a, vm.id);
      await a.define(vm);
      await a.define(vm);
      await assertState(a, vm, 'stopped');
      await assertListed(a, vm.id, 'stopped');

      await a.start(vm);
      const first = await assertState(a, vm, 'running');
      await a.start(vm);
      const again = await assertState(a, vm, 'running');
      if (first.pid !== undefined) assert.equal(again.pid, first.pid, 'start of a running VM must not start another');
      await assertListed(a, vm.id, 'running');
      await a.define(vm);
      await assertState(a, vm, 'running'); // define of a running VM (a redelivered create) leaves it alone

      await a.stop(vm, { force: false, timeoutMs: GRACEFUL_MS });
      await assertState(a, vm, 'stopped');
      await a.stop(vm, { force: false, timeoutMs: GRACEFUL_MS });
      await a.stop(vm, { force: true });
      await assertState(a, vm, 'stopped');
      await assertListed(a, vm.id, 'stopped');

      await a.start(vm);
      await assertState(a, vm, 'running');
      await a.stop(vm, { force: true });
      await assertState(a, vm, 'stopped');
      await a.stop(vm, { force: true });
      await assertState(a, vm, 'stopped');

      await a.destroy(vm);
      await assertState(a, vm, 'absent');
      await assertNotListed(a, vm.id);
      await a.destroy(vm);
      await assertState(a, vm, 'absent');

      // The id is free again: a VM re-created under it starts from scratch.
      await a.define(vm);
      await assertState(a, vm, 'stopped');
      await a.destroy(vm);
      await assertState(a, vm, 'absent');
    });

    test('destroy of a running VM stops it and removes it', opts, async () => {
      const vm = spec('destroy');
      await a.define(vm);
      await a.start(vm);
      await assertState(a, vm, 'running');
      await a.destroy(vm);
      await assertState(a, vm, 'absent');
      await assertNotListed(a, vm.id);
    });

    test(
      'a redelivered job (concurrent duplicates, a restarted worker) reaches the same state once',
      opts,
      async () => {
        const vm = spec('redeliver');
        await Promise.all([a.define(vm), a.define(vm)]);
        await assertState(a, vm, 'stopped');
        await Promise.all([a.start(vm), a.start(vm)]);
        const running = await assertState(a, vm, 'running');
        const entries = (await a.listDomains()).filter((d) => d.vmId === vm.id && d.managed);
        assert.equal(entries.length, 1, `one domain for ${vm.id}: ${JSON.stringify(entries)}`);

        // A worker restarted after a crash gets a new driver and the same job again.
        const restarted = drivers.open(main.binding);
        await restarted.define(vm);
        await restarted.start(vm);
        const seen = await assertState(restarted, vm, 'running');
        if (running.pid !== undefined) assert.equal(seen.pid, running.pid, 'the restarted worker must adopt the VM');

        // The stalled first delivery and the redelivery both run.
        await Promise.all([a.stop(vm, { force: true }), restarted.stop(vm, { force: true })]);
        await assertState(a, vm, 'stopped');
        await assertState(restarted, vm, 'stopped');
        await Promise.all([a.destroy(vm), restarted.destroy(vm)]);
        await assertState(a, vm, 'absent');
      },
    );

    test(
      'a VM killed from outside shows crashed or stopped, listDomains agrees, and it can be stopped and started again',
      opts,
      async () => {
        const vm = spec('killed');
        await a.define(vm);
        await a.start(vm);
        await assertState(a, vm, 'running');
        await target.killFromOutside(main.binding, vm.id);
        const seen = await waitForState(a, vm, ['crashed', 'stopped']);
        const listed = await listedAs(a, vm.id);
        assert.ok(listed, `listDomains does not list the killed VM ${vm.id}`);
        assert.equal(
          listed.state,
          seen.state,
          `listDomains ${JSON.stringify(listed)} vs status ${JSON.stringify(seen)}`,
        );

        // What the control plane does next: acknowledge with a stop, or start it again.
        await a.stop(vm, { force: true });
        await assertState(a, vm, 'stopped');
        await a.start(vm);
        await assertState(a, vm, 'running');
        await a.destroy(vm);
        await assertState(a, vm, 'absent');
      },
    );

    capabilityTests(plan, () => a, spec, drivers);
    resizeContract(plan, () => a, spec);

    if (undeclared(main.capabilities).length > 0) {
      describe(`undeclared capabilities of ${main.binding.uri} are refused as 'unsupported'`, () => {
        refusalTests(main, () => a, spec);
      });
    } else {
      test('undeclared capabilities are refused', { skip: `${main.binding.uri} declares every capability` });
    }

    if (plan.restricted) {
      const restricted = plan.restricted;
      describe(`a restricted host (${restricted.binding.uri}) refuses what it does not declare`, () => {
        let r: HypervisorDriver;
        before(() => {
          r = drivers.open(restricted.binding);
        });
        test('its driver declares what its URI says, and that is less than everything', () => {
          assert.deepEqual({ ...r.capabilities }, { ...restricted.capabilities });
          assert.ok(undeclared(r.capabilities).length > 0, 'a restricted host must leave something undeclared');
        });
        refusalTests(
          restricted,
          () => r,
          (label) => spec(label, () => r),
        );
      });
    }
  });
}
