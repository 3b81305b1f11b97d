import type { VmSpec } from '../hypervisor-driver.port.js';
import { growImage, imageInfo } from '../kit/qemu-img.js';
import { assertSpecSizes, diskBytesOf } from '../kit/safe-name.js';
import type { QemuDomain } from './qemu-domain.js';

/**
 * A cold resize is applied here, at the next start: the argv is built from the stored spec, so the
 * new vCPUs and memory go there, and a larger diskGiB grows the qcow2 first (the guest sees a
 * bigger disk; growing its filesystem is the guest's business). A live resize wrote its sizes into
 * the stored spec already, so a restart after one changes nothing here.
 */
export async function applySize(dom: QemuDomain, stored: VmSpec, spec: VmSpec): Promise<VmSpec> {
  const same = (k: 'vcpus' | 'memoryMiB' | 'diskGiB' | 'maxVcpus' | 'maxMemoryMiB'): boolean => stored[k] === spec[k];
  if (same('vcpus') && same('memoryMiB') && same('diskGiB') && same('maxVcpus') && same('maxMemoryMiB')) return stored;
  assertSpecSizes(spec);
  if (spec.diskGiB > stored.diskGiB) {
    const want = diskBytesOf(spec);
    const have = (await imageInfo(dom.paths.disk, { forceShare: false }))['virtual-size'];
    if (have < want) await growImage(dom.paths.disk, want);
  }
  const next = {
    ...stored,
    vcpus: spec.vcpus,
    memoryMiB: spec.memoryMiB,
    diskGiB: Math.max(stored.diskGiB, spec.diskGiB),
    // The ceilings for live growth are the control plane's too (a cold resize may raise them).
    maxVcpus: spec.maxVcpus,
    maxMemoryMiB: spec.maxMemoryMiB,
  };
  dom.writeSpec(next);
  return next;
}
