import { DriverError, type DriverCapabilities } from '../hypervisor-driver.port.js';
import type { HostPolicy } from '../kit/host-policy.js';
import { kvmUsable } from '../kit/kvm-probe.js';
import { DIMM_STEP_MIB } from './qemu-hotplug-layout.js';
import { parseQemuUri, type QemuHostConfig } from './qemu-uri.js';

/** What a `qemu` host can do, from its URI alone (no process started): the API's 422 check. */
/** The registration probe: `accel=kvm` on a machine without usable KVM is refused here (400), not at the first start. */
export function qemuCapabilities(uri: string, policy?: HostPolicy): DriverCapabilities {
  const config = parseQemuUri(uri, policy);
  if (config.accel === 'kvm' && !kvmUsable()) {
    throw new DriverError(
      'invalid',
      'accel=kvm: this machine has no usable KVM (/dev/kvm must be readable and writable and the CPU must ' +
        'show vmx or svm); use accel=auto or accel=tcg',
    );
  }
  return capabilitiesFor(config);
}

export function capabilitiesFor(config: QemuHostConfig): DriverCapabilities {
  return {
    liveMigration: true,
    coldMigration: true,
    memorySnapshots: true,
    diskSnapshots: true,
    pause: true,
    reboot: true,
    hardwareAcceleration: resolveAccel(config) === 'kvm',
    // vCPUs by ACPI CPU hotplug, memory by pc-dimm, the disk by block_resize (qemu-hot-resize.ts);
    // nothing is removed live: a guest that uses a CPU or a DIMM cannot be made to give it back reliably.
    hotResize: { vcpus: 'grow', memory: 'grow', diskGrow: true, memoryStepMiB: DIMM_STEP_MIB },
  };
}

export function resolveAccel(config: QemuHostConfig): 'kvm' | 'tcg' {
  if (config.accel === 'auto') return kvmUsable() ? 'kvm' : 'tcg';
  return config.accel;
}
