import { basename, dirname, isAbsolute, normalize } from 'node:path';
import { DriverError, type MigrationEndpoint } from '../hypervisor-driver.port.js';

/** prepareIncoming's answer: which libvirtd the source daemon talks to, and where the VM's disk lives there. */
export interface LibvirtEndpoint {
  driver: 'libvirt';
  mode: 'live' | 'cold';
  /** The target libvirtd as the source libvirtd reaches it (peer-to-peer): the target host's peerUri. */
  uri: string;
  /** Where the source QEMU sends the stream (`--migrateuri tcp://<host>`); empty: libvirt picks the target's hostname. */
  migrationHost: string;
  /** Equal on both sides when they share storage: then nothing is copied. */
  storageId: string;
  /** The target's disk path; the source rewrites the domain XML to it when copying storage. */
  diskPath: string;
  diskBytes: number;
  /** The target's volumes dir (`<storage>/volumes`): attached volumes' files go there. Absent from older targets. */
  volumesDir?: string;
}

const HOST = /^[A-Za-z0-9.:[\]-]*$/;

/** The endpoint crosses hosts through the control plane: every field is checked before it reaches virsh. */
export function parseEndpoint(raw: MigrationEndpoint, vmId: string): LibvirtEndpoint {
  const bad = (why: string): DriverError => new DriverError('failed', `invalid libvirt migration endpoint: ${why}`);
  if (raw.driver !== 'libvirt') throw bad(`driver is ${String(raw.driver)}, not libvirt`);
  if (raw.mode !== 'live' && raw.mode !== 'cold') throw bad(`mode ${String(raw.mode)}`);
  const str = (k: string): string => {
    const v = raw[k];
    if (typeof v !== 'string') throw bad(`${k} missing`);
    return v;
  };
  const uri = str('uri');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw bad(`uri ${uri}`);
  }
  if (url.hostname === '' || uri.startsWith('-')) throw bad(`uri ${uri} names no host`);
  const migrationHost = str('migrationHost');
  if (!HOST.test(migrationHost)) throw bad('migrationHost');
  const diskPath = str('diskPath');
  // Only ever `<some storage>/<vmId>/disk.qcow2`: it ends up in the target's domain XML.
  if (
    !isAbsolute(diskPath) ||
    normalize(diskPath) !== diskPath ||
    basename(diskPath) !== 'disk.qcow2' ||
    basename(dirname(diskPath)) !== vmId
  ) {
    throw bad(`diskPath ${diskPath}`);
  }
  const diskBytes = raw.diskBytes;
  if (typeof diskBytes !== 'number' || !Number.isSafeInteger(diskBytes) || diskBytes < 0) throw bad('diskBytes');
  const storageId = str('storageId');
  if (!storageId) throw bad('storageId missing');
  const volumesDir = raw.volumesDir;
  // Only ever `<some storage>/volumes`: it ends up in the target's domain XML and a cp argv.
  if (
    volumesDir !== undefined &&
    (typeof volumesDir !== 'string' ||
      !isAbsolute(volumesDir) ||
      normalize(volumesDir) !== volumesDir ||
      volumesDir.endsWith('/') ||
      basename(volumesDir) !== 'volumes')
  ) {
    throw bad(`volumesDir ${String(volumesDir)}`);
  }
  return {
    driver: 'libvirt',
    mode: raw.mode,
    uri,
    migrationHost,
    storageId,
    diskPath,
    diskBytes,
    ...(volumesDir !== undefined ? { volumesDir } : {}),
  };
}

export function toWire(e: LibvirtEndpoint): MigrationEndpoint {
  return { ...e };
}
