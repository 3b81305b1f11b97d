import type { CallContext, VmSpec } from '../hypervisor-driver.port.js';
import { growImage, imageInfo } from '../kit/qemu-img.js';
import { assertSpecSizes, diskBytesOf } from '../kit/safe-name.js';
import { activeDisk } from './libvirt-external-snapshots.js';
import type { LibvirtHost } from './libvirt-host.js';

/** The size the inactive definition holds now (KiB as libvirt keeps it). */
export function definedSize(xml: string): { vcpus: number; memoryKiB: number; currentKiB: number } {
  const kib = (tag: string) => {
    const m = new RegExp(`<${tag} unit='(KiB|MiB|GiB)'>(\\d+)</${tag}>`).exec(xml);
    if (!m) return undefined;
    return Number(m[2]) * (m[1] === 'GiB' ? 1024 * 1024 : m[1] === 'MiB' ? 1024 : 1);
  };
  const vcpu = /<vcpu[^>]*>(\d+)<\/vcpu>/.exec(xml);
  const memoryKiB = kib('memory') ?? 0;
  return { vcpus: vcpu ? Number(vcpu[1]) : 0, memoryKiB, currentKiB: kib('currentMemory') ?? memoryKiB };
}

/**
 * A cold resize, applied at the next start of a stopped domain (as qemu's and the container's):
 * the definition's vCPUs and memory follow the stored spec through `virsh setvcpus/setmaxmem/setmem
 * --config` (the maximum first when growing, last when shrinking: libvirt keeps current ≤ maximum),
 * and a larger diskGiB grows the active disk image (the guest grows its filesystem itself).
 */
export async function applySize(h: LibvirtHost, spec: VmSpec, ctx: CallContext): Promise<void> {
  assertSpecSizes(spec);
  const name = h.domainName(spec.id);
  const xml = await h.v(['dumpxml', name, '--inactive'], ctx);
  if (hasHeadroom(spec) || /<maxMemory\b|<vcpu[^>]*current=/.test(xml)) {
    await redefineIfResized(h, spec, xml, ctx);
    return growDisk(h, spec, ctx);
  }
  const have = definedSize(xml);
  if (have.vcpus !== spec.vcpus) {
    const n = String(spec.vcpus);
    const steps = [
      ['setvcpus', name, n, '--config', '--maximum'],
      ['setvcpus', name, n, '--config'],
    ];
    for (const args of spec.vcpus > have.vcpus ? steps : steps.reverse()) await h.v(args, ctx);
  }
  const wantKiB = spec.memoryMiB * 1024;
  if (have.memoryKiB !== wantKiB || have.currentKiB !== wantKiB) {
    const kib = `${wantKiB}KiB`;
    const steps = [
      ['setmaxmem', name, kib, '--config'],
      ['setmem', name, kib, '--config'],
    ];
    for (const args of wantKiB > have.memoryKiB ? steps : steps.reverse()) await h.v(args, ctx);
  }
  await growDisk(h, spec, ctx);
}

const hasHeadroom = (spec: VmSpec): boolean =>
  (spec.maxVcpus ?? spec.vcpus) > spec.vcpus || (spec.maxMemoryMiB ?? spec.memoryMiB) > spec.memoryMiB;

/**
 * A definition with ceilings is regenerated from the spec when anything differs: libvirt refuses
 * `setmaxmem` on a domain with a NUMA cell, and DIMMs attached live (`--config` too, so a restart
 * kept them) are forgotten here, the memory they added becoming boot memory of the cell.
 */
async function redefineIfResized(h: LibvirtHost, spec: VmSpec, xml: string, ctx: CallContext): Promise<void> {
  const have = definedSize(xml);
  const maxVcpus = Math.max(spec.vcpus, spec.maxVcpus ?? spec.vcpus);
  const maxMemKiB = /<maxMemory[^>]*unit='KiB'>(\d+)</.exec(xml)?.[1];
  const same =
    !/<memory model='dimm'/.test(xml) &&
    have.vcpus === maxVcpus &&
    Number(/<vcpu[^>]*current='(\d+)'/.exec(xml)?.[1] ?? have.vcpus) === spec.vcpus &&
    have.memoryKiB === spec.memoryMiB * 1024 &&
    Number(maxMemKiB ?? have.memoryKiB) === Math.max(spec.memoryMiB, spec.maxMemoryMiB ?? 0) * 1024;
  if (same) return;
  await h.defineXml(spec, h.files(spec.id), ctx, await activeDisk(h.chain(spec, ctx)));
}

async function growDisk(h: LibvirtHost, spec: VmSpec, ctx: CallContext): Promise<void> {
  const disk = await activeDisk(h.chain(spec, ctx));
  const want = diskBytesOf(spec);
  if ((await imageInfo(disk, { forceShare: false }))['virtual-size'] < want) await growImage(disk, want);
}
