import { existsSync } from 'node:fs';
import type { HostBinding, VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { createContainerDriver, hostKeyOf } from '../../../src/drivers/container/container.driver.js';
import { isSameLiveProcess, procStat, waitGone } from '../../../src/drivers/container/proc-stat.js';
import type { ContractTarget } from '../contract-target.js';
import { containerSkipReason, removeHostCgroups } from './container-test-env.js';

/**
 * Storage is named in the URI so the API's host and this binding agree on where the root
 * filesystems are. A short stop timeout keeps a stop of an init that ignores SIGTERM quick;
 * the generated busybox init handles SIGTERM and stops in milliseconds anyway.
 */
function binding(id: string, storageDir: string): HostBinding {
  const query = new URLSearchParams({ storage: storageDir, stopTimeoutMs: '2000' });
  return { id, driver: 'container', uri: `container:///?${query.toString()}`, storageDir };
}

/** Real containers: unshare'd namespaces, pivot_root into a busybox rootfs, cgroup limits and freezer. */
export const target: ContractTarget = {
  kind: 'container',
  async skipReason() {
    return containerSkipReason();
  },
  async host(id, storageDir) {
    return binding(id, storageDir);
  },
  // Its own storage dir: cold migration copies the root filesystem there (hosts must not share one).
  async secondHost(id, storageDir) {
    return binding(id, storageDir);
  },
  spec(vmId): VmSpec {
    return { id: vmId, name: vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
  },
  /** kill -9 of the container's init, as the OOM killer or an admin would; the namespace dies with it. */
  async killFromOutside(host, vmId) {
    const driver = createContainerDriver(host);
    const { pid } = await driver.status(target.spec(vmId));
    if (pid === undefined) throw new Error(`container ${vmId} on ${host.id} has no init to kill`);
    const startTime = procStat(pid)?.startTime ?? '';
    process.kill(pid, 'SIGKILL');
    if (!(await waitGone(() => !isSameLiveProcess(pid, startTime), 10_000))) {
      throw new Error(`container init ${pid} survived SIGKILL`);
    }
  },
  /** Destroys every container of the host (init killed, files and cgroups removed), then its cgroup dirs. */
  async cleanup(host) {
    // A driver makes its storage dir: constructing one for a dir already removed would leave it behind.
    if (existsSync(host.storageDir)) {
      const driver = createContainerDriver(host);
      for (const dom of await driver.listDomains()) {
        if (dom.managed) await driver.destroy(target.spec(dom.vmId)).catch(() => undefined);
      }
    }
    // Also when the storage dir is already gone (the app's data dir removed first): by cgroup.
    await removeHostCgroups(hostKeyOf(host.id));
  },
};
