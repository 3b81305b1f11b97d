import { DriverError } from '../hypervisor-driver.port.js';

/**
 * Everything that reaches a path, a QMP argument or an HMP command line must match this:
 * no slash, no dot-dot, no space or comma (QEMU option separators), no leading dash/dot.
 */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Sizes that reach qemu-img and the QEMU command line must be sane numbers, not NaN or 0. */
export function assertSpecSizes(spec: {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
  maxVcpus?: number;
  maxMemoryMiB?: number;
}): void {
  const ok = (n: number, max: number): boolean => Number.isFinite(n) && n > 0 && n <= max;
  if (!Number.isInteger(spec.vcpus) || !ok(spec.vcpus, 1024))
    throw new DriverError('failed', `invalid vcpus ${spec.vcpus}`);
  if (!Number.isInteger(spec.memoryMiB) || !ok(spec.memoryMiB, 16 * 1024 * 1024)) {
    throw new DriverError('failed', `invalid memoryMiB ${spec.memoryMiB}`);
  }
  if (!ok(spec.diskGiB, 1024 * 1024)) throw new DriverError('failed', `invalid diskGiB ${spec.diskGiB}`);
  // The live-resize ceilings reach QEMU's argv and libvirt's XML: whole numbers in range. One below
  // the size is no headroom (drivers take the larger of the two), not an error.
  const { maxVcpus, maxMemoryMiB } = spec;
  if (maxVcpus !== undefined && (!Number.isInteger(maxVcpus) || !ok(maxVcpus, 1024))) {
    throw new DriverError('failed', `invalid maxVcpus ${maxVcpus}`);
  }
  if (maxMemoryMiB !== undefined && (!Number.isInteger(maxMemoryMiB) || !ok(maxMemoryMiB, 16 * 1024 * 1024))) {
    throw new DriverError('failed', `invalid maxMemoryMiB ${maxMemoryMiB}`);
  }
}

/** One rounding for the disk size everywhere: define and the NBD migration target must agree to the byte. */
export function diskBytesOf(spec: { diskGiB: number }): number {
  return Math.ceil((spec.diskGiB * 1024 ** 3) / 512) * 512;
}

export function assertSafeName(kind: string, value: string): string {
  if (typeof value !== 'string' || !SAFE_NAME.test(value)) {
    throw new DriverError('failed', `invalid ${kind} ${JSON.stringify(value)}: must match ${SAFE_NAME.source}`);
  }
  return value;
}
