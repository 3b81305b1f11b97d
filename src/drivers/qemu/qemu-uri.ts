import { isAbsolute } from 'node:path';
import { DriverError } from '../hypervisor-driver.port.js';
import { assertUnderHostDirRoots, type HostPolicy } from '../kit/host-policy.js';

export type AccelChoice = 'auto' | 'kvm' | 'tcg';

/** What a `qemu:` host URI configures. Every field has a default, so `qemu:///system` alone works. */
export interface QemuHostConfig {
  /** `system` and `session` behave the same here: the worker already runs as the user that owns the storage. */
  scope: 'system' | 'session';
  /** Overrides the worker's storage dir for disks, sockets and per-VM files. */
  storageDir?: string;
  /** Directories of the image catalog `spec.image` must lie in (default `<storageDir>/.images`); `images=` may repeat. */
  imagesDirs: string[];
  /** Address the incoming migration and NBD servers bind to and that the source connects to. */
  migrationHost: string;
  accel: AccelChoice;
  /** Upper bound of a migrate call, including the disk copy. */
  migrationTimeoutMs: number;
  /** QEMU's `max-bandwidth` for migration in bytes/s (QEMU's own default, 32 MiB/s, is slow on loopback). */
  migrationBandwidth: number;
  /** Default grace period of a graceful stop before `quit`. */
  stopTimeoutMs: number;
  qemuBinary: string;
}

const KEYS = new Set([
  'storage',
  'images',
  'migrationHost',
  'accel',
  'migrationTimeoutMs',
  'migrationBandwidth',
  'stopTimeoutMs',
  'qemuBinary',
]);

/**
 * Parses `qemu:///system` or `qemu:///session` with optional query parameters, e.g.
 * `qemu:///system?storage=/abs/dir&migrationHost=127.0.0.1&accel=tcg`. Unknown parameters are
 * refused: a typo would otherwise silently fall back to a default. With a policy, every directory
 * and a qemuBinary given as a path must lie under its host dir roots (a bare name must be a qemu-system-*).
 */
export function parseQemuUri(uri: string, policy?: HostPolicy): QemuHostConfig {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`invalid qemu host URI ${JSON.stringify(uri)}`);
  }
  if (url.protocol !== 'qemu:' || url.host !== '') {
    throw new Error(`qemu host URI must be qemu:///system or qemu:///session, got ${JSON.stringify(uri)}`);
  }
  const scope = url.pathname.replace(/^\/+/, '');
  if (scope !== 'system' && scope !== 'session') {
    throw new Error(`qemu host URI path must be /system or /session, got ${JSON.stringify(url.pathname)}`);
  }
  for (const key of url.searchParams.keys()) {
    if (!KEYS.has(key)) throw new Error(`unknown qemu host URI parameter ${JSON.stringify(key)}`);
  }
  const q = url.searchParams;
  const accel = q.get('accel') ?? 'auto';
  if (accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg') {
    throw new Error(`accel must be auto, kvm or tcg, got ${JSON.stringify(accel)}`);
  }
  const migrationHost = q.get('migrationHost') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]+$/.test(migrationHost)) {
    throw new Error(`invalid migrationHost ${JSON.stringify(migrationHost)}`);
  }
  const qemuBinary = q.get('qemuBinary') ?? 'qemu-system-x86_64';
  if (!/^[A-Za-z0-9._/-]+$/.test(qemuBinary)) throw new Error(`invalid qemuBinary ${JSON.stringify(qemuBinary)}`);
  for (const key of ['storage', 'images'] as const) {
    for (const dir of q.getAll(key)) assertUnderHostDirRoots(key, dir, policy);
  }
  if (policy && q.has('qemuBinary')) {
    if (qemuBinary.includes('/')) assertUnderHostDirRoots('qemuBinary', qemuBinary, policy);
    else if (!/^qemu-system-[a-z0-9_]+$/.test(qemuBinary)) {
      throw new DriverError(
        'invalid',
        `qemuBinary=${qemuBinary} must be a qemu-system-* program or a path under HOST_DIR_ROOTS`,
      );
    }
  }
  return {
    scope,
    storageDir: absolute('storage', q.get('storage')),
    imagesDirs: q.getAll('images').map((v) => absolute('images', v) as string),
    migrationHost,
    accel,
    migrationTimeoutMs: positiveInt('migrationTimeoutMs', q.get('migrationTimeoutMs'), 10 * 60_000),
    migrationBandwidth: positiveInt('migrationBandwidth', q.get('migrationBandwidth'), 8 * 1024 * 1024 * 1024),
    stopTimeoutMs: positiveInt('stopTimeoutMs', q.get('stopTimeoutMs'), 30_000),
    qemuBinary,
  };
}

function absolute(name: string, value: string | null): string | undefined {
  if (value === null) return undefined;
  if (!isAbsolute(value) || value.includes('\0')) throw new Error(`${name} must be an absolute path, got ${value}`);
  return value;
}

function positiveInt(name: string, value: string | null, fallback: number): number {
  if (value === null) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${value}`);
  return n;
}
