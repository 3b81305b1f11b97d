import type { HostPolicy } from '../kit/host-policy.js';
import { DriverError, type DriverCapabilities } from '../hypervisor-driver.port.js';
import { kvmUsable } from '../kit/kvm-probe.js';
import { DIMM_STEP_MIB } from './domain-xml.js';
import { parseLibvirtUri, type LibvirtHostConfig } from './libvirt-uri.js';

/**
 * What a `libvirt` host can do, from its URI alone (the API's 422 check; nothing is contacted).
 * Only the QEMU family was exercised for real here (qemu:///system under TCG, live migration to a
 * second libvirtd); the others declare what this driver's virsh calls can do on them, and no more.
 */
export function libvirtCapabilities(uri: string, policy?: HostPolicy): DriverCapabilities {
  const config = parseLibvirtUri(uri, policy);
  // The registration probe, as qemu's accel=kvm: refused here (400), not at the first start. Only a
  // local libvirtd runs on this machine; a remote one's /dev/kvm cannot be seen from here.
  if (config.domainType === 'kvm' && config.local && !kvmUsable()) {
    throw new DriverError(
      'invalid',
      'domainType=kvm: this machine has no usable KVM (/dev/kvm must be readable and writable and the CPU must ' +
        'show vmx or svm); use domainType=auto or domainType=qemu',
    );
  }
  return capabilitiesFor(config);
}

export function capabilitiesFor(config: LibvirtHostConfig): DriverCapabilities {
  const caps = hypervisorCapabilities(config);
  for (const d of config.disabled) caps[d] = false;
  return caps;
}

function hypervisorCapabilities(config: LibvirtHostConfig): DriverCapabilities {
  const none: DriverCapabilities = {
    liveMigration: false,
    coldMigration: false,
    memorySnapshots: false,
    diskSnapshots: false,
    pause: true,
    reboot: true,
    hardwareAcceleration: false,
  };
  switch (config.hypervisor) {
    case 'qemu':
      return {
        liveMigration: true,
        coldMigration: true,
        memorySnapshots: true,
        diskSnapshots: true,
        pause: true,
        reboot: true,
        hardwareAcceleration: resolveDomainType(config) === 'kvm',
        // setvcpus --live, a DIMM by attach-device --live, blockresize (libvirt-hot-resize.ts);
        // libvirt cannot unplug a vCPU or a DIMM the guest uses reliably, so growth only.
        hotResize: { vcpus: 'grow', memory: 'grow', diskGrow: true, memoryStepMiB: DIMM_STEP_MIB },
      };
    case 'test':
      // libvirt's test driver keeps snapshots but has no virDomainMigrate3.
      return { ...none, memorySnapshots: true, diskSnapshots: true };
    default:
      // xen, openvz, esx, lxc…: lifecycle through the same virsh verbs; snapshots and migration
      // differ per driver and were not verified here, so they are not claimed.
      return none;
  }
}

/** `type='kvm'` only when asked, or when `auto` and this machine really has usable KVM (local URIs only). */
export function resolveDomainType(config: LibvirtHostConfig): 'kvm' | 'qemu' {
  if (config.domainType !== 'auto') return config.domainType;
  return config.local && kvmUsable() ? 'kvm' : 'qemu';
}
