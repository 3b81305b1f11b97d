import { isAbsolute, resolve } from 'node:path';
import {
  DriverError,
  type HotResizeCapabilities,
  type MigrationEndpoint,
  type SnapshotInfo,
  type VmSpec,
} from '../hypervisor-driver.port.js';
import { isSafeVmId } from './domain-file-store.js';

/** The simulated driver's argument checks and its errors, worded once for every verb. */

export function checkId(id: string): void {
  if (!isSafeVmId(id)) throw new DriverError('failed', `simulated: invalid VM id ${JSON.stringify(id)}`);
}

export function checkSnapshotName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) {
    throw new DriverError('failed', `simulated: invalid snapshot name ${JSON.stringify(name)}`);
  }
}

export function parseEndpoint(endpoint: MigrationEndpoint): { targetDir: string; token: string } {
  const { host, token } = endpoint;
  if (typeof host !== 'string' || !isAbsolute(host) || typeof token !== 'string' || token === '') {
    throw new DriverError('failed', `simulated: invalid migration endpoint ${JSON.stringify(endpoint)}`);
  }
  return { targetDir: resolve(host), token };
}

export function illegal(vmId: string, verb: string, state: string): DriverError {
  return new DriverError('conflict', `simulated: cannot ${verb} ${vmId}: it is ${state}`);
}

export function incomingConflict(vmId: string, verb: string): DriverError {
  return new DriverError('conflict', `simulated: cannot ${verb} ${vmId}: it is an incoming migration on this host`);
}

export function toSnapshotInfo(s: { name: string; memory: boolean; createdAt: string }): SnapshotInfo {
  return { name: s.name, memory: s.memory, createdAt: s.createdAt };
}

export function now(): string {
  return new Date().toISOString();
}

/**
 * What the simulated host refuses of a live resize, as a real driver would: nothing declared, a
 * dimension it cannot change or only grows, past the ceilings the VM was started with, a disk shrink.
 */
export function checkLiveResize(
  hot: HotResizeCapabilities | undefined,
  spec: VmSpec,
  to: { vcpus: number; memoryMiB: number; diskGiB: number },
): void {
  const refuse = (why: string) => new DriverError('unsupported', `simulated: cannot resize ${spec.id} live: ${why}`);
  if (!hot) throw refuse('the host declares no hotResize');
  const dims = [
    ['vcpus', hot.vcpus, spec.vcpus, to.vcpus, spec.maxVcpus ?? spec.vcpus],
    ['memoryMiB', hot.memory, spec.memoryMiB, to.memoryMiB, spec.maxMemoryMiB ?? spec.memoryMiB],
  ] as const;
  for (const [field, can, from, want, max] of dims) {
    if (!Number.isSafeInteger(want) || want < 1)
      throw new DriverError('invalid', `simulated: invalid ${field} ${want}`);
    if (want === from) continue;
    if (can === 'none' || (can === 'grow' && want < from)) throw refuse(`${field} ${from} → ${want}`);
    if (want > max) throw new DriverError('invalid', `simulated: ${field} ${want} is above the ceiling ${max}`);
  }
  if (to.diskGiB < spec.diskGiB || (to.diskGiB > spec.diskGiB && !hot.diskGrow))
    throw refuse(`diskGiB ${spec.diskGiB} → ${to.diskGiB}`);
}
