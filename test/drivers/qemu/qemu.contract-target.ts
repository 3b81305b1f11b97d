import { spawnSync } from 'node:child_process';
import type { HostBinding, VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import { createQemuDriver } from '../../../src/drivers/qemu/qemu.driver.js';
import { listQemuProcesses, sendSignal, waitUntilGone } from '../../../src/drivers/qemu/qemu-process.js';
import type { ContractTarget } from '../contract-target.js';

const QEMU = 'qemu-system-x86_64';

function installed(binary: string): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * TCG always (KVM is not usable on the CI machines, and `auto` would make the run depend on
 * the machine). Storage is named in the URI so that the API's host and this binding agree on
 * where the QEMUs' files are, which is how cleanup finds them. A short stop timeout: the no-OS
 * guest never answers ACPI, so a graceful stop always waits it out before `quit`.
 */
function binding(id: string, storageDir: string): HostBinding {
  const query = new URLSearchParams({ accel: 'tcg', storage: storageDir, stopTimeoutMs: '1000' });
  return { id, driver: 'qemu', uri: `qemu:///system?${query.toString()}`, storageDir };
}

function ourQemus(storageDir: string): number[] {
  return listQemuProcesses()
    .filter((p) => p.argv.some((a) => a.includes(`${storageDir}/`)))
    .map((p) => p.pid);
}

function alive(pid: number): boolean {
  return listQemuProcesses().some((p) => p.pid === pid);
}

/** Real QEMU under TCG, no guest OS: every verb of the port works on a VM that boots nothing. */
export const target: ContractTarget = {
  kind: 'qemu',
  async skipReason() {
    if (!installed(QEMU)) return `${QEMU} is not installed (apt-get install qemu-system-x86)`;
    if (!installed('qemu-img')) return 'qemu-img is not installed (apt-get install qemu-utils)';
    return undefined;
  },
  async host(id, storageDir) {
    return binding(id, storageDir);
  },
  // A second storage dir: live migration copies the disk over NBD, cold migration copies the file.
  async secondHost(id, storageDir) {
    return binding(id, storageDir);
  },
  spec(vmId): VmSpec {
    return { id: vmId, name: vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
  },
  async killFromOutside(host, vmId) {
    const driver = createQemuDriver(host);
    try {
      const { pid } = await driver.status(target.spec(vmId));
      if (pid === undefined) throw new Error(`qemu VM ${vmId} on ${host.id} has no process to kill`);
      sendSignal(pid, 'SIGKILL');
      if (!(await waitUntilGone(() => alive(pid), 10_000))) throw new Error(`qemu pid ${pid} survived SIGKILL`);
    } finally {
      await driver.close();
    }
  },
  async cleanup(host) {
    const pids = ourQemus(host.storageDir);
    for (const pid of pids) sendSignal(pid, 'SIGKILL');
    for (const pid of pids) await waitUntilGone(() => alive(pid), 10_000);
  },
};
