import { isAbsolute, normalize } from 'node:path';
import { assertUnderHostDirRoots, type HostPolicy } from '../kit/host-policy.js';

/** What a `container:` host URI configures. Every field has a default, so `container:///` alone works. */
export interface ContainerHostConfig {
  /** Overrides the worker's storage dir for root filesystems, snapshots and run files. */
  storageDir?: string;
  /** Directories a request's `image` may name a root filesystem in (default `<storageDir>/.images`). */
  imageDirs: string[];
  /** Grace period of a graceful stop (SIGTERM) before SIGKILL. */
  stopTimeoutMs: number;
  /** How long a fresh init must stay alive for start to call it running (catches an init that exits at once). */
  startGraceMs: number;
  /** `pids.max` of every container: a fork bomb inside stops there. */
  pidsMax: number;
  /**
   * Where the containers' cgroups go, as a path inside each hierarchy (e.g. `/virtledger`). By default
   * under the worker's own cgroup, so containers stay inside whatever limits the worker itself has.
   */
  cgroupParent?: string;
  /** A static busybox: copied into generated root filesystems and used to set the container up. */
  busybox: string;
  /**
   * How a cold migration reaches this host as the target: `dir` (the source copies into a staging
   * dir here: hosts on one machine or a shared filesystem) or `tcp` (a tar stream to a port here).
   */
  migration: 'dir' | 'tcp';
  /** Which freezer pause uses: `auto` (cgroup2 `cgroup.freeze` when mounted, else the v1 freezer) or one forced. */
  freezer: 'auto' | 'v1' | 'v2';
  /** Address the tcp receiver binds to and the source connects to. */
  migrationHost: string;
  /** Upper bound of sending one VM over tcp. */
  migrationTimeoutMs: number;
  /**
   * Where container disks are mounted (`<mounts>/<hash of storage>/<vmId>`): outside the storage
   * dir, which stays private to root, in a dir only the containers' root group may pass through.
   */
  mounts: string;
  /** How long a connection to the tcp receiver may take to show its token before it is dropped. */
  migrationHeaderTimeoutMs: number;
}

const KEYS = new Set([
  'storage',
  'images',
  'stopTimeoutMs',
  'startGraceMs',
  'pidsMax',
  'cgroupParent',
  'busybox',
  'migration',
  'migrationHost',
  'migrationTimeoutMs',
  'migrationHeaderTimeoutMs',
  'mounts',
  'freezer',
]);

/**
 * Parses `container:///` (the path may also be `/system`) with optional query parameters, e.g.
 * `container:///?storage=/abs/dir&images=/abs/a&images=/abs/b&stopTimeoutMs=10000`. Unknown
 * parameters are refused: a typo would otherwise silently fall back to a default.
 */
export function parseContainerUri(uri: string, policy?: HostPolicy): ContainerHostConfig {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`invalid container host URI ${JSON.stringify(uri)}`);
  }
  if (url.protocol !== 'container:' || url.host !== '') {
    throw new Error(`container host URI must look like container:///?storage=/abs/dir, got ${JSON.stringify(uri)}`);
  }
  if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/system') {
    throw new Error(`container host URI path must be / or /system, got ${JSON.stringify(url.pathname)}`);
  }
  const q = url.searchParams;
  for (const key of q.keys()) {
    if (!KEYS.has(key)) throw new Error(`unknown container host URI parameter ${JSON.stringify(key)}`);
  }
  // With a policy (the API and the worker), host directories and busybox must lie under HOST_DIR_ROOTS.
  for (const key of ['storage', 'images', 'busybox'])
    for (const v of q.getAll(key)) assertUnderHostDirRoots(key, v, policy);
  const rawParent = q.get('cgroupParent');
  // Checked before normalising: `/a/../b` must be refused, not quietly turned into `/b`.
  if (rawParent !== null && /(^|\/)\.\.?(\/|$)/.test(rawParent)) {
    throw new Error(`cgroupParent must not contain . or .. segments, got ${rawParent}`);
  }
  const cgroupParent = absolute('cgroupParent', rawParent);
  const migration = q.get('migration') ?? 'dir';
  if (migration !== 'dir' && migration !== 'tcp') {
    throw new Error(`migration must be dir or tcp, got ${JSON.stringify(migration)}`);
  }
  const migrationHost = q.get('migrationHost') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]+$/.test(migrationHost))
    throw new Error(`invalid migrationHost ${JSON.stringify(migrationHost)}`);
  const freezer = q.get('freezer') ?? 'auto';
  if (freezer !== 'auto' && freezer !== 'v1' && freezer !== 'v2') {
    throw new Error(`freezer must be auto, v1 or v2, got ${JSON.stringify(freezer)}`);
  }
  return {
    freezer,
    migration,
    migrationHost,
    migrationTimeoutMs: positiveInt('migrationTimeoutMs', q.get('migrationTimeoutMs'), 10 * 60_000),
    migrationHeaderTimeoutMs: positiveInt('migrationHeaderTimeoutMs', q.get('migrationHeaderTimeoutMs'), 10_000),
    storageDir: absolute('storage', q.get('storage')),
    imageDirs: q.getAll('images').map((v) => absolute('images', v) as string),
    stopTimeoutMs: positiveInt('stopTimeoutMs', q.get('stopTimeoutMs'), 10_000),
    startGraceMs: positiveInt('startGraceMs', q.get('startGraceMs'), 200),
    pidsMax: positiveInt('pidsMax', q.get('pidsMax'), 1024),
    cgroupParent,
    busybox: absolute('busybox', q.get('busybox')) ?? '/bin/busybox',
    mounts: absolute('mounts', q.get('mounts')) ?? '/run/virtledger/containers',
  };
}

function absolute(name: string, value: string | null): string | undefined {
  if (value === null) return undefined;
  if (!isAbsolute(value) || value.includes('\0') || value.includes('\n')) {
    throw new Error(`${name} must be an absolute path, got ${JSON.stringify(value)}`);
  }
  return normalize(value).replace(/(.)\/$/, '$1');
}

function positiveInt(name: string, value: string | null, fallback: number): number {
  if (value === null) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${value}`);
  return n;
}
