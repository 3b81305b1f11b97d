import { resolve } from 'node:path';
import { DriverError, type HostBinding } from '../../../src/drivers/hypervisor-driver.port.js';
import { DomainFileStore } from '../../../src/drivers/simulated/domain-file-store.js';

/**
 * The domain died behind the control plane's back. A simulated domain is a file, so the test
 * edits it the way a dead process would leave a real one: crashed, if it was running or paused.
 */
export async function killSimulatedFromOutside(host: HostBinding, vmId: string): Promise<void> {
  const store = new DomainFileStore(resolve(host.storageDir));
  const d = store.read(vmId);
  if (!d) throw new DriverError('not_found', `simulated: ${vmId} is not defined on host ${host.id}`);
  if (d.state !== 'running' && d.state !== 'paused') return;
  store.write({
    ...d,
    state: 'crashed',
    detail: 'killed from outside the driver',
    updatedAt: new Date().toISOString(),
  });
}
