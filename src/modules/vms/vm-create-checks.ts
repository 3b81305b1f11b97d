import { badField } from '../../http/as-of.query.js';
import { DomainError } from '../../domain/domain-error.js';
import { defaultCeilings, type CatalogImageRef } from '../../domain/vm/vm.types.js';

/**
 * The ceilings a create asks for, or the defaults (see defaultCeilings); below the size is a 400
 * naming the field. They are not reserved on the host: only the size is.
 */
export function checkCeilings(body: { vcpus: number; memoryMiB: number; maxVcpus?: number; maxMemoryMiB?: number }): {
  maxVcpus: number;
  maxMemoryMiB: number;
} {
  const d = defaultCeilings(body);
  if (body.maxVcpus !== undefined && body.maxVcpus < body.vcpus)
    throw badField('maxVcpus', `must be at least vcpus (${body.vcpus}), got ${body.maxVcpus}`);
  if (body.maxMemoryMiB !== undefined && body.maxMemoryMiB < body.memoryMiB)
    throw badField('maxMemoryMiB', `must be at least memoryMiB (${body.memoryMiB}), got ${body.maxMemoryMiB}`);
  return { maxVcpus: body.maxVcpus ?? d.maxVcpus, maxMemoryMiB: body.maxMemoryMiB ?? d.maxMemoryMiB };
}

/** A container boots a rootfs; a VM boots a disk or a kernel: the other way round is a 422 before any event. */
export function checkImageFitsDriver(image: CatalogImageRef, driver: string): void {
  const containerish = driver === 'container';
  const vmish = driver === 'qemu' || driver === 'libvirt';
  if ((containerish && image.format !== 'rootfs') || (vmish && image.format === 'rootfs')) {
    throw new DomainError(
      'unsupported',
      `image ${image.name} is a ${image.format} image, which a ${driver} host cannot boot`,
    );
  }
}
