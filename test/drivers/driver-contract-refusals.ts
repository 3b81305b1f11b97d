import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HypervisorDriver, VmSpec } from '../../src/drivers/hypervisor-driver.port.js';
import {
  TEST_TIMEOUT_MS,
  assertState,
  rejectsWithCode,
  undeclared,
  type ContractHost,
  type OperationalCapability,
  type SpecFn,
} from './driver-contract-support.js';

const opts = { timeout: TEST_TIMEOUT_MS };

/**
 * One test per capability the host does not declare: the verb is refused as 'unsupported',
 * from a state where it would otherwise be legal, and the VM is left as it was.
 */
export function refusalTests(host: ContractHost, driver: () => HypervisorDriver, spec: SpecFn): void {
  for (const cap of undeclared(host.capabilities)) {
    test(`${cap} (not declared) is refused as 'unsupported' and changes nothing`, opts, async () => {
      const d = driver();
      const vm = spec(`no-${cap.slice(0, 5).toLowerCase()}`);
      await d.define(vm);
      const running = RUNNING_FOR[cap];
      if (running) await d.start(vm);
      const state = running ? 'running' : 'stopped';
      for (const [what, call] of REFUSED[cap](d, vm)) await rejectsWithCode(call(), 'unsupported', what);
      await assertState(d, vm, state);
      if (cap === 'memorySnapshots' || cap === 'diskSnapshots') {
        assert.ok(!(await d.listSnapshots(vm).catch(() => [])).some((s) => s.name === 'refused'));
      }
      await d.destroy(vm);
    });
  }
}

/** Whether the refused verb would be legal on a running VM (else on a stopped one). */
const RUNNING_FOR: Record<OperationalCapability, boolean> = {
  pause: true,
  reboot: true,
  memorySnapshots: true,
  diskSnapshots: false,
  liveMigration: true,
  coldMigration: false,
};

type Call = [string, () => Promise<unknown>];

const REFUSED: Record<OperationalCapability, (d: HypervisorDriver, vm: VmSpec) => Call[]> = {
  pause: (d, vm) => [
    ['pause', () => d.pause(vm)],
    ['resume', () => d.resume(vm)],
  ],
  reboot: (d, vm) => [['reboot', () => d.reboot(vm)]],
  memorySnapshots: (d, vm) => [['snapshot {memory: true}', () => d.snapshot(vm, 'refused', { memory: true })]],
  diskSnapshots: (d, vm) => [['snapshot {memory: false}', () => d.snapshot(vm, 'refused', { memory: false })]],
  // As a target (prepareIncoming of another VM) and as the source (migrate, whatever the endpoint).
  liveMigration: (d, vm) => [
    ['prepareIncoming {live: true}', () => d.prepareIncoming({ ...vm, id: `${vm.id}-in` }, { live: true })],
    ['migrate {live: true}', () => d.migrate(vm, {}, { live: true })],
  ],
  coldMigration: (d, vm) => [
    ['prepareIncoming {live: false}', () => d.prepareIncoming({ ...vm, id: `${vm.id}-in` }, { live: false })],
    ['migrate {live: false}', () => d.migrate(vm, {}, { live: false })],
  ],
};
