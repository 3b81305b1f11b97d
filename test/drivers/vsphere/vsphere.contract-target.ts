import type { HostBinding, VmSpec } from '../../../src/drivers/hypervisor-driver.port.js';
import type { ContractTarget } from '../contract-target.js';
import {
  HOSTS,
  ensureVcsim,
  powerOffFromOutside,
  vcsimSkipReason,
  vsphereBinding,
  vsphereUri,
  type Vcsim,
} from './vsphere-test-env.js';

/**
 * The vsphere driver for the shared contract suite, run against vcsim (VMware's simulator, the
 * VPX model): the first host is DC0_C0_H0, the second DC0_C0_H1 in the same cluster, so both
 * migrations are a real RelocateVM_Task between hosts. CI starts the simulator
 * (.ci/services/vcsim.sh, VCSIM_URL); otherwise the first host() starts one with the same script
 * and the last cleanup() stops it.
 */
let sim: Vcsim | undefined;
let hostsInUse = 0;

function simUp(): Vcsim {
  sim ??= ensureVcsim();
  return sim;
}

function binding(id: string, host: string, storageDir: string, extra: Record<string, string> = {}): HostBinding {
  hostsInUse++;
  return vsphereBinding(id, vsphereUri(simUp(), host, extra), storageDir);
}

const vsphereTarget = {
  kind: 'vsphere',
  /** Shown in the suite's titles: this run proves the driver against a simulator, not a vCenter. */
  title: "vcsim (VMware's simulator)",
  unproven: {
    'graceful stop and reboot through VMware Tools in the contract run (ShutdownGuest, RebootGuest)':
      "vcsim's VMs run no VMware Tools, so here stop powers off and reboot resets; ShutdownGuest is proven in vsphere-vcsim.test.ts by setting the Tools status through vcsim's SET.guest.* knob, and RebootGuest is not implemented by vcsim 0.24: only a real ESXi guest proves it",
    'CancelTask of a task still running when the deadline passes':
      'vcsim runs every task to completion inside the call that starts it; the cancel path is proven against a scripted SOAP server (test/drivers/vsphere/vsphere-soap.test.ts)',
    'a memory snapshot restores the guest and its power state by itself':
      'vcsim keeps the power state on RevertToSnapshot_Task and has no guest memory; the driver powers the VM on after a memory revert, which a real vCenter does itself',
    'MigrateVM_Task (the older host-only migration call)':
      'not implemented by vcsim ("does not implement"); the driver uses RelocateVM_Task for both live and cold migration, which every vCenter has',
    'a migration that moves disks to another datastore, and vMotion compatibility checks':
      'vcsim changes the VM host and pool without copying files or checking CPU compatibility; only a real vCenter proves those',
  } satisfies Record<string, string>,

  async skipReason() {
    return vcsimSkipReason();
  },

  async host(id: string, storageDir: string) {
    return binding(id, HOSTS[0], storageDir);
  },

  async secondHost(id: string, storageDir: string) {
    return binding(id, HOSTS[1], storageDir);
  },

  /** The same host with capabilities switched off in the URI, so the refusals are proven too. */
  async restrictedHost(id: string, storageDir: string) {
    return binding(id, HOSTS[0], storageDir, { disable: 'pause,reboot,memorySnapshots,liveMigration' });
  },

  spec(vmId: string): VmSpec {
    return { id: vmId, name: vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
  },

  async killFromOutside(host: HostBinding, vmId: string) {
    await powerOffFromOutside(host.uri, vmId);
  },

  async cleanup() {
    hostsInUse = Math.max(0, hostsInUse - 1);
    if (hostsInUse === 0 && sim) {
      sim.stop();
      sim = undefined;
    }
  },
};

export const target: ContractTarget = vsphereTarget;
