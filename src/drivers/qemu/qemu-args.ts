import { createHash } from 'node:crypto';
import type { KernelBoot } from '../kit/image-catalog.js';

export interface QemuLaunch {
  vmId: string;
  accel: 'kvm' | 'tcg';
  /** Boot RAM; memory plugged live since is in `dimms`. */
  memoryMiB: number;
  vcpus: number;
  /** Ceilings for live growth (`-smp …,maxcpus`, `-m …,slots,maxmem`); absent or equal: no headroom. */
  maxVcpus?: number;
  maxMemoryMiB?: number;
  memorySlots?: number;
  /** DIMMs plugged live into the source of a migration: the target is started with them. */
  dimms?: { id: string; memdev: string; sizeMiB: number }[];
  disk: string;
  pidFile: string;
  qmpSocket: string;
  serialSocket: string;
  serialLog: string;
  kernel?: KernelBoot;
  /** A NoCloud seed (ISO, label cidata), attached read-only as the second virtio disk. */
  seed?: string;
  /** Target of a live migration: wait for `migrate-incoming`. */
  incoming?: boolean;
  /** Do not run vCPUs until `cont` (`-S`): needed by the NBD storage-migration target. */
  startPaused?: boolean;
  /** Start from this internal memory snapshot (revert of a stopped VM to a memory snapshot). */
  loadvm?: string;
  /** NICs on virtledger networks: taps the driver made on the networks' bridges. */
  nics?: { tap: string; mac: string }[];
  /** Attached volumes: a qcow2 blockdev each (`node`) behind a virtio-blk-pci device (`device`). */
  volumes?: { node: string; device: string; path: string; addr: string }[];
}

/** The argv of one VM. Every path is absolute: QEMU reopens images by name when a migration activates them. */
export function qemuArgs(l: QemuLaunch): string[] {
  const args = [
    '-name',
    l.vmId,
    '-no-user-config',
    '-nodefaults',
    '-display',
    'none',
    '-machine',
    'pc',
    '-accel',
    l.accel,
    '-m',
    memoryArg(l),
    '-smp',
    l.maxVcpus !== undefined && l.maxVcpus > l.vcpus ? `${l.vcpus},maxcpus=${l.maxVcpus}` : String(l.vcpus),
    '-drive',
    `file=${l.disk},format=qcow2,if=virtio,node-name=disk0,cache=writeback`,
    ...netArgs(l),
    '-qmp',
    `unix:${l.qmpSocket},server=on,wait=off`,
    // The console is a socket for live use plus a per-process log that keeps everything, connected or not.
    '-chardev',
    `socket,id=serial0,path=${l.serialSocket},server=on,wait=off,logfile=${l.serialLog},logappend=off`,
    '-serial',
    'chardev:serial0',
    '-pidfile',
    l.pidFile,
  ];
  // Read-only: savevm skips it, and both ends of a migration build the same seed from the spec.
  if (l.seed) args.push('-drive', `file=${l.seed},format=raw,if=virtio,readonly=on,node-name=seed0`);
  // Volumes after the seed, in attach order, with ids derived from the volume ids: a hot-plug and
  // a migration target name the same nodes and devices as a start does.
  for (const v of l.volumes ?? []) {
    args.push('-blockdev', `driver=qcow2,node-name=${v.node},file.driver=file,file.filename=${v.path}`);
    args.push('-device', `virtio-blk-pci,drive=${v.node},id=${v.device},addr=${v.addr}`);
  }
  for (const d of l.dimms ?? []) {
    args.push('-object', `memory-backend-ram,id=${d.memdev},size=${d.sizeMiB}M`);
    args.push('-device', `pc-dimm,id=${d.id},memdev=${d.memdev}`);
  }
  // virtio-blk takes one queue per boot vCPU by default, and a migration target must have the queues
  // of its source: with room to grow, the count is pinned to the ceiling, which is also the default
  // once the VM has grown to it (a target started with every vCPU at boot then matches).
  if (l.maxVcpus !== undefined && l.maxVcpus > l.vcpus) args.push('-global', `virtio-blk-pci.num-queues=${l.maxVcpus}`);
  if (l.kernel) {
    args.push('-kernel', l.kernel.kernel, '-append', l.kernel.append);
    if (l.kernel.initrd) args.push('-initrd', l.kernel.initrd);
  }
  if (l.startPaused) args.push('-S');
  if (l.incoming) args.push('-incoming', 'defer');
  if (l.loadvm) args.push('-loadvm', l.loadvm);
  return args;
}

/** Plain `-m <MiB>` without headroom (the argv of every VM before live resize existed). */
function memoryArg(l: QemuLaunch): string {
  if (l.maxMemoryMiB === undefined || l.maxMemoryMiB <= l.memoryMiB) return String(l.memoryMiB);
  return `${l.memoryMiB}M,slots=${l.memorySlots ?? 1},maxmem=${l.maxMemoryMiB}M`;
}

/**
 * NICs on networks are taps QEMU opens by name (made and enslaved by the driver, so QEMU runs no
 * script); the MAC is the one the network allocated, kept across migrations. A VM without NICs
 * keeps user-mode networking: no privileges or bridge needed, and a VM-derived MAC.
 */
function netArgs(l: QemuLaunch): string[] {
  if (!l.nics || l.nics.length === 0) {
    return ['-netdev', 'user,id=n0', '-device', `virtio-net-pci,netdev=n0,mac=${macFor(l.vmId)}`];
  }
  return l.nics.flatMap((nic, i) => [
    '-netdev',
    `tap,id=n${i},ifname=${nic.tap},script=no,downscript=no`,
    '-device',
    `virtio-net-pci,netdev=n${i},mac=${nic.mac}`,
  ]);
}

function macFor(vmId: string): string {
  const h = createHash('sha256').update(vmId).digest();
  return ['52', '54', '00', h[0], h[1], h[2]]
    .map((b) => (typeof b === 'number' ? b.toString(16).padStart(2, '0') : b))
    .join(':');
}
