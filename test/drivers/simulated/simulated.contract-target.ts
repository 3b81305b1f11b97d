import type { HostBinding, VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import type { ContractTarget } from '../contract-target.js';
import { killSimulatedFromOutside } from './kill-from-outside.js';

/** Every capability the simulated URI can turn off, turned off: the refusal paths of the suite. */
const RESTRICTED =
  'simulated://?pause=false&reboot=false&memorySnapshots=false&diskSnapshots=false&liveMigration=false&coldMigration=false';

function binding(id: string, storageDir: string, uri: string): HostBinding {
  return { id, driver: 'simulated', uri, storageDir };
}

/** The simulated driver runs everywhere: no latency, no injected faults. */
export const target: ContractTarget = {
  kind: 'simulated',
  async skipReason() {
    return undefined;
  },
  async host(id, storageDir) {
    return binding(id, storageDir, 'simulated://?latencyMs=0');
  },
  async secondHost(id, storageDir) {
    return binding(id, storageDir, 'simulated://?latencyMs=0');
  },
  async restrictedHost(id, storageDir) {
    return binding(id, storageDir, RESTRICTED);
  },
  spec(vmId): VmSpec {
    return { id: vmId, name: vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
  },
  // The domain is a file: the test marks it crashed, as a dead process would leave it.
  killFromOutside: killSimulatedFromOutside,
};
