import { isAbsolute, resolve } from 'node:path';
import { DriverError, type MigrationEndpoint, type SnapshotInfo } from '../hypervisor-driver.port.js';
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
