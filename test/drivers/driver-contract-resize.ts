import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HypervisorDriver, VmSpec } from '../../src/drivers/hypervisor-driver.port.js';
import {
  TEST_TIMEOUT_MS,
  assertState,
  rejectsWithCode,
  type ContractPlan,
  type SpecFn,
} from './driver-contract-support.js';

/**
 * resizeLive, for every driver whose host declares hotResize: only what the port promises (it
 * grows a running VM along each declared dimension, a repeat of the same totals is a success,
 * a VM that does not run is a conflict), so it holds for qemu, libvirt, container and simulated
 * alike; what the guest sees is each driver's own test.
 */
export function resizeContract(plan: ContractPlan, a: () => HypervisorDriver, spec: SpecFn): void {
  const hot = plan.main.capabilities.hotResize;
  if (!hot) {
    test('resizeLive', { skip: `${plan.main.binding.uri} declares no hotResize` });
    return;
  }
  test(
    'resizeLive (declared): a running VM grows, a repeat is a success, a stopped one is a conflict, a restart keeps the size',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const d = a();
      assert.equal(typeof d.resizeLive, 'function', 'a driver declaring hotResize implements resizeLive');
      const base = spec('resize');
      // 128 MiB: a whole memory block, which a Linux guest needs to use hot-added memory.
      const vm: VmSpec = { ...base, maxVcpus: base.vcpus + 1, maxMemoryMiB: base.memoryMiB + 128 };
      const to = {
        vcpus: hot.vcpus === 'none' ? vm.vcpus : vm.vcpus + 1,
        memoryMiB: hot.memory === 'none' ? vm.memoryMiB : vm.memoryMiB + 128,
        diskGiB: hot.diskGrow ? vm.diskGiB + 1 : vm.diskGiB,
      };
      await d.define(vm);
      await rejectsWithCode(d.resizeLive!(vm, to), 'conflict', 'resizeLive of a stopped VM');
      await d.start(vm);
      const same = { vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, diskGiB: vm.diskGiB };
      await d.resizeLive!(vm, same); // already there: nothing to do, and no error
      await d.resizeLive!(vm, to);
      await assertState(d, vm, 'running');
      await d.resizeLive!(vm, to); // a redelivery
      await assertState(d, vm, 'running');

      // The control plane's spec now has the new totals; a stop and start applies them cold.
      const grown = { ...vm, ...to };
      await d.stop(grown, { force: true });
      await rejectsWithCode(d.resizeLive!(grown, to), 'conflict', 'resizeLive of a stopped VM');
      await d.start(grown);
      await assertState(d, grown, 'running');
      await d.resizeLive!(grown, to); // the restarted VM is at that size already
      await d.destroy(grown);
    },
  );
}
