import type { DomainXmlInput } from '../../../src/drivers/libvirt/domain-xml.js';

/** The inputs behind test/drivers/libvirt/golden/<name>.xml; regenerate with VL_UPDATE_GOLDEN=1. */
export const GOLDEN: Record<string, DomainXmlInput> = {
  'kernel-boot-tcg': {
    domainName: 'vl-vm-golden1',
    vmId: 'vm-golden1',
    title: 'web-1',
    hostId: 'hv1',
    domainType: 'qemu',
    vcpus: 1,
    memoryMiB: 128,
    disk: '/srv/virtledger/hosts/hv1/vm-golden1/disk.qcow2',
    consoleLog: '/srv/virtledger/hosts/hv1/vm-golden1/console.log',
    kernel: {
      kernel: '/srv/guest/vmlinuz',
      initrd: '/srv/guest/initrd.gz',
      append: 'console=ttyS0 quiet panic=-1',
    },
  },
  'disk-boot-kvm': {
    domainName: 'vl-vm-golden2',
    vmId: 'vm-golden2',
    title: 'db <primary> & "friends"',
    hostId: 'hv-2',
    domainType: 'kvm',
    vcpus: 4,
    memoryMiB: 4096,
    disk: '/var/lib/virtledger/vm-golden2/disk.qcow2',
  },
};
