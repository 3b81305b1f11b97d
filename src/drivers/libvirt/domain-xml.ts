import { createHash } from 'node:crypto';
import type { KernelBoot } from '../kit/image-catalog.js';

/** The namespace of our `<metadata>` element: marks a domain as made by virtledger, names its VM. */
export const METADATA_NS = 'https://virtledger.dev/xmlns/libvirt/1';

export interface DomainXmlInput {
  domainName: string;
  vmId: string;
  /** The VM's display name, kept in `<title>` for humans reading `virsh list --title`. */
  title: string;
  /** The virtledger host id that defined it. */
  hostId: string;
  domainType: 'kvm' | 'qemu';
  vcpus: number;
  memoryMiB: number;
  /** Ceilings for live growth (`<vcpu current=…>`, `<maxMemory slots=…>` + one NUMA cell); absent or equal: none. */
  maxVcpus?: number;
  maxMemoryMiB?: number;
  disk: string;
  kernel?: KernelBoot;
  /** A NoCloud seed (ISO, label cidata), attached read-only as vdb. */
  seed?: string;
  /** Everything the guest prints on its serial console, kept by virtlogd whether or not anyone is attached. */
  consoleLog?: string;
  /** NICs on virtledger networks: libvirt makes a tap on each bridge (made by the driver beforehand). */
  nics?: { bridge: string; mac: string }[];
  /** Attached volumes (qcow2 files), in attach order: vdc, vdd, … */
  volumes?: VolumeDisk[];
}

/** One volume as a libvirt `<disk>`: the same XML defines it and, alone, attaches or detaches it. */
export interface VolumeDisk {
  path: string;
  /** Its index among the VM's volumes: the target `vd<c + index>`. */
  index: number;
  /** A serial the guest sees (/dev/disk/by-id), derived from the volume id. */
  serial: string;
}

const MAX_VOLUMES = 16;

export function volumeDiskXml(v: VolumeDisk, indent = '    '): string {
  if (!Number.isInteger(v.index) || v.index < 0 || v.index >= MAX_VOLUMES) {
    throw new Error(`at most ${MAX_VOLUMES} volumes per VM`);
  }
  const target = `vd${String.fromCharCode('c'.charCodeAt(0) + v.index)}`;
  return [
    `${indent}<disk type='file' device='disk'>`,
    `${indent}  <driver name='qemu' type='qcow2'/>`,
    `${indent}  <source file='${esc(v.path)}'/>`,
    `${indent}  <target dev='${target}' bus='virtio'/>`,
    `${indent}  <serial>${esc(v.serial)}</serial>`,
    `${indent}</disk>`,
  ].join('\n');
}

/**
 * The domain XML of one VM: a virtio qcow2 disk, virtio NICs (see interfaces()), a pty serial
 * console, ACPI so `virsh shutdown` reaches the guest. Deterministic (same input, same bytes): it is golden-file tested.
 */
export function domainXml(d: DomainXmlInput): string {
  const os = [`    <type arch='x86_64' machine='pc'>hvm</type>`];
  if (d.kernel) {
    os.push(`    <kernel>${esc(d.kernel.kernel)}</kernel>`);
    if (d.kernel.initrd) os.push(`    <initrd>${esc(d.kernel.initrd)}</initrd>`);
    os.push(`    <cmdline>${esc(d.kernel.append)}</cmdline>`);
  } else {
    os.push(`    <boot dev='hd'/>`);
  }
  return [
    `<domain type='${d.domainType}'>`,
    `  <name>${esc(d.domainName)}</name>`,
    `  <uuid>${uuidFor(d.vmId)}</uuid>`,
    `  <title>${esc(d.title)}</title>`,
    `  <metadata>`,
    `    <vl:vm xmlns:vl='${METADATA_NS}' id='${esc(d.vmId)}' host='${esc(d.hostId)}'/>`,
    `  </metadata>`,
    ...sizing(d),
    `  <os>`,
    ...os,
    `  </os>`,
    ...numa(d),
    `  <features>`,
    `    <acpi/>`,
    `  </features>`,
    `  <clock offset='utc'/>`,
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>restart</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    `    <disk type='file' device='disk'>`,
    `      <driver name='qemu' type='qcow2'/>`,
    `      <source file='${esc(d.disk)}'/>`,
    `      <target dev='vda' bus='virtio'/>`,
    `    </disk>`,
    ...(d.seed
      ? [
          `    <disk type='file' device='disk'>`,
          `      <driver name='qemu' type='raw'/>`,
          `      <source file='${esc(d.seed)}'/>`,
          `      <target dev='vdb' bus='virtio'/>`,
          `      <readonly/>`,
          `    </disk>`,
        ]
      : []),
    ...(d.volumes ?? []).map((v) => volumeDiskXml(v)),
    ...interfaces(d),
    `    <serial type='pty'>`,
    ...(d.consoleLog ? [`      <log file='${esc(d.consoleLog)}' append='off'/>`] : []),
    `      <target port='0'/>`,
    `    </serial>`,
    `    <console type='pty'>`,
    `      <target type='serial' port='0'/>`,
    `    </console>`,
    `  </devices>`,
    `</domain>`,
    '',
  ].join('\n');
}

/** DIMM slots of a domain with memory headroom: each live memory growth attaches one DIMM. */
export const MEMORY_SLOTS = 16;

/**
 * Linux (x86_64) onlines hot-plugged memory in whole 128 MiB blocks: a DIMM of another size
 * would show in libvirt but never in the guest, so live growth comes in multiples of it.
 */
export const DIMM_STEP_MIB = 128;

const hasMemoryHeadroom = (d: DomainXmlInput): boolean => d.maxMemoryMiB !== undefined && d.maxMemoryMiB > d.memoryMiB;

/** vCPUs and memory; with headroom, the ceilings libvirt needs to plug vCPUs and DIMMs live. */
function sizing(d: DomainXmlInput): string[] {
  const vcpu =
    d.maxVcpus !== undefined && d.maxVcpus > d.vcpus
      ? `  <vcpu placement='static' current='${int(d.vcpus)}'>${int(d.maxVcpus)}</vcpu>`
      : `  <vcpu placement='static'>${int(d.vcpus)}</vcpu>`;
  return [
    ...(hasMemoryHeadroom(d)
      ? [`  <maxMemory slots='${MEMORY_SLOTS}' unit='MiB'>${int(d.maxMemoryMiB ?? 0)}</maxMemory>`]
      : []),
    `  <memory unit='MiB'>${int(d.memoryMiB)}</memory>`,
    vcpu,
  ];
}

/** QEMU (and so libvirt) plugs DIMMs only into a NUMA node: one cell holding every vCPU and the boot memory. */
function numa(d: DomainXmlInput): string[] {
  if (!hasMemoryHeadroom(d)) return [];
  const last = Math.max(d.vcpus, d.maxVcpus ?? d.vcpus) - 1;
  const cpus = last === 0 ? '0' : `0-${last}`;
  return [
    `  <cpu>`,
    `    <numa>`,
    `      <cell id='0' cpus='${cpus}' memory='${int(d.memoryMiB)}' unit='MiB'/>`,
    `    </numa>`,
    `  </cpu>`,
  ];
}

/**
 * A virtio NIC on user-mode networking (no bridge or privileges needed) for a VM without
 * networks; otherwise one `type='bridge'` NIC per network NIC with the MAC the network allocated.
 */
function interfaces(d: DomainXmlInput): string[] {
  if (!d.nics || d.nics.length === 0) {
    return [
      `    <interface type='user'>`,
      `      <mac address='${macFor(d.vmId)}'/>`,
      `      <model type='virtio'/>`,
      `    </interface>`,
    ];
  }
  return d.nics.flatMap((n) => [
    `    <interface type='bridge'>`,
    `      <source bridge='${esc(n.bridge)}'/>`,
    `      <mac address='${esc(n.mac)}'/>`,
    `      <model type='virtio'/>`,
    `    </interface>`,
  ]);
}

/** A stable UUID per VM id, so a redefine (retried define, migration target) keeps the domain's identity. */
export function uuidFor(vmId: string): string {
  const h = createHash('sha256').update(`virtledger:${vmId}`).digest('hex');
  // RFC 4122 layout, version 5-style bits on a name hash.
  const v = `5${h.slice(13, 16)}`;
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16) + h.slice(17, 20);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${v}-${variant}-${h.slice(20, 32)}`;
}

function macFor(vmId: string): string {
  const h = createHash('sha256').update(vmId).digest();
  return ['52', '54', '00', h[0]!, h[1]!, h[2]!]
    .map((b) => (typeof b === 'number' ? b.toString(16).padStart(2, '0') : b))
    .join(':');
}

function int(n: number): string {
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`not a positive integer: ${n}`);
  return String(n);
}

/** XML text and attribute escaping (values are safe names and plain paths, but never trusted). */
export function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/'/g, '&apos;')
    .replace(/"/g, '&quot;');
}
