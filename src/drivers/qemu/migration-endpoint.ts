import { basename, dirname, isAbsolute, normalize } from 'node:path';
import { DriverError, type MigrationEndpoint } from '../hypervisor-driver.port.js';

/** prepareIncoming's answer for a live migration: where to send RAM (and the disk, over NBD, unless shared). */
export interface LiveEndpoint {
  driver: 'qemu';
  mode: 'live';
  migrationId: string;
  host: string;
  port: number;
  /** The target opened the source's own disk (shared storage): nothing to copy. */
  shared: boolean;
  storageId: string;
  /** NBD export of the target's fresh disk; 0 when shared. */
  nbdPort: number;
  nbdExport: string;
  /** Virtual size of the target disk; the source refuses a mirror into a different size. */
  diskBytes: number;
}

/** prepareIncoming's answer for a cold migration: where the stopped VM's disk must be copied. */
export interface ColdEndpoint {
  driver: 'qemu';
  mode: 'cold';
  migrationId: string;
  storageId: string;
  diskPath: string;
  /** The target already had a disk at diskPath before prepareIncoming. */
  diskExisted: boolean;
}

export type QemuEndpoint = LiveEndpoint | ColdEndpoint;

export function toWire(e: QemuEndpoint): MigrationEndpoint {
  return { ...e };
}

const HOST = /^[A-Za-z0-9.:-]+$/;

/** The endpoint crosses hosts through the control plane: check every field before it reaches QMP or a path. */
export function parseEndpoint(raw: MigrationEndpoint, vmId: string): QemuEndpoint {
  const bad = (why: string): DriverError => new DriverError('failed', `invalid qemu migration endpoint: ${why}`);
  if (raw.driver !== 'qemu') throw bad(`driver is ${String(raw.driver)}, not qemu`);
  const str = (k: string): string => {
    const v = raw[k];
    if (typeof v !== 'string' || !v) throw bad(`${k} missing`);
    return v;
  };
  const bool = (k: string): boolean => {
    const v = raw[k];
    if (typeof v !== 'boolean') throw bad(`${k} missing`);
    return v;
  };
  const int = (k: string, min: number, max: number): number => {
    const v = raw[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${k} out of range`);
    return v;
  };
  const migrationId = str('migrationId');
  const storageId = str('storageId');
  if (raw.mode === 'live') {
    const host = str('host');
    if (!HOST.test(host)) throw bad('host');
    const nbdExport = str('nbdExport');
    if (!/^[A-Za-z0-9_-]+$/.test(nbdExport)) throw bad('nbdExport');
    const shared = bool('shared');
    return {
      driver: 'qemu',
      mode: 'live',
      migrationId,
      host,
      port: int('port', 1, 65535),
      shared,
      storageId,
      nbdPort: int('nbdPort', shared ? 0 : 1, 65535),
      nbdExport,
      diskBytes: int('diskBytes', 0, Number.MAX_SAFE_INTEGER),
    };
  }
  if (raw.mode === 'cold') {
    const diskPath = str('diskPath');
    // Only ever `<some storage>/<vmId>/disk.qcow2`: the source writes there.
    if (
      !isAbsolute(diskPath) ||
      normalize(diskPath) !== diskPath ||
      basename(diskPath) !== 'disk.qcow2' ||
      basename(dirname(diskPath)) !== vmId
    ) {
      throw bad(`diskPath ${diskPath}`);
    }
    return { driver: 'qemu', mode: 'cold', migrationId, storageId, diskPath, diskExisted: bool('diskExisted') };
  }
  throw bad(`mode ${String(raw.mode)}`);
}

/** `tcp:` URIs need brackets around an IPv6 literal. */
export function hostForUri(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
