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
  'bridge-nics': {
    domainName: 'vl-vm-golden3',
    vmId: 'vm-golden3',
    title: 'on two networks',
    hostId: 'hv3',
    domainType: 'qemu',
    vcpus: 1,
    memoryMiB: 128,
    disk: '/srv/virtledger/hosts/hv3/vm-golden3/disk.qcow2',
    nics: [
      { bridge: 'vlbr-0a1b2c3d', mac: '52:54:00:12:34:56' },
      { bridge: 'vlbr-4e5f6a7b', mac: '52:54:00:ab:cd:ef' },
    ],
  },
  'hot-resize-headroom': {
    domainName: 'vl-vm-golden4',
    vmId: 'vm-golden4',
    title: 'room to grow live',
    hostId: 'hv4',
    domainType: 'qemu',
    vcpus: 2,
    maxVcpus: 8,
    memoryMiB: 512,
    maxMemoryMiB: 2048,
    disk: '/srv/virtledger/hosts/hv4/vm-golden4/disk.qcow2',
  },
};
