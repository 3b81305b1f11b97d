import { createHash, randomUUID } from 'node:crypto';
import { existsSync, linkSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MigrationEndpoint, VmSpec } from '../hypervisor-driver.port.js';

/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const SOCKET_NAMES = ['qmp.sock', 'serial.sock'];

/**
 * Where one VM's files live on one host. The disk and spec.json sit in `<storage>/<vmId>/`;
 * runtime files (sockets, pid, logs, markers) sit in a per-host subdir `run-<hostKey>/` so two
 * hosts sharing one storage dir (shared-storage migration) never step on each other's sockets.
 */
export interface VmPaths {
  vmDir: string;
  disk: string;
  spec: string;
  runDir: string;
  runInfo: string;
  pidFile: string;
  qemuLog: string;
  serialLog: string;
  /** Written when the driver stops the VM on purpose, so a dead process is not reported as crashed. */
  stoppedMarker: string;
  /** Written by prepareIncoming, removed by finishIncoming/abortIncoming. */
  incoming: string;
  /** `runDir`, or a short `/tmp/vlq-<hash>` dir when sockets in `runDir` would exceed sun_path. */
  socketDir: string;
  qmpSocket: string;
  serialSocket: string;
}

export function vmPaths(storageDir: string, hostKey: string, vmId: string): VmPaths {
  const vmDir = join(storageDir, vmId);
  const runDir = join(vmDir, `run-${hostKey}`);
  const longest = Math.max(...SOCKET_NAMES.map((n) => Buffer.byteLength(join(runDir, n))));
  const socketDir =
    longest <= MAX_SOCKET_PATH ? runDir : `/tmp/vlq-${createHash('sha256').update(runDir).digest('hex').slice(0, 16)}`;
  return {
    vmDir,
    disk: join(vmDir, 'disk.qcow2'),
    spec: join(vmDir, 'spec.json'),
    runDir,
    runInfo: join(runDir, 'run.json'),
    pidFile: join(runDir, 'qemu.pid'),
    qemuLog: join(runDir, 'qemu.log'),
    serialLog: join(runDir, 'serial.log'),
    stoppedMarker: join(runDir, 'stopped-by-driver'),
    incoming: join(runDir, 'incoming.json'),
    socketDir,
    qmpSocket: join(socketDir, 'qmp.sock'),
    serialSocket: join(socketDir, 'serial.sock'),
  };
}

/** What the driver records about the QEMU process it launched (the pidfile vanishes on a clean exit). */
export interface RunInfo {
  pid: number;
  startedAt: string;
  accel: 'kvm' | 'tcg';
  mode: 'normal' | 'incoming';
  qmpSocket: string;
  serialSocket: string;
}

/** prepareIncoming's record, so finish/abort know what it created and a retried prepare answers the same. */
export interface IncomingInfo {
  live: boolean;
  shared: boolean;
  createdDisk: boolean;
  createdVmDir: boolean;
  endpoint?: MigrationEndpoint;
}

export interface StoredSpec extends VmSpec {
  definedAt: string;
  /**
   * The host key of the host the VM belongs to. Only matters on shared storage, where every
   * host sees the spec: the others report the VM absent and never delete its disk.
   */
  ownerHost?: string;
}

export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write-then-rename, so a crash never leaves half a JSON file behind. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

/**
 * The short socket dir sits in world-writable /tmp under a predictable name: refuse one that
 * someone else made (or a symlink), or QMP could be served by a stranger's socket.
 */
export function ensurePrivateDir(path: string): void {
  ensureDir(path);
  const st = lstatSync(path);
  if (!st.isDirectory() || st.isSymbolicLink() || st.uid !== process.getuid?.() || (st.mode & 0o077) !== 0) {
    throw new Error(`${path} is not a private directory of this user; refusing to put sockets in it`);
  }
}

/**
 * A random id stored once per storage dir. Two hosts that see the same id share the storage,
 * which is how the source of a migration knows whether the disk has to be copied.
 */
export function storageId(storageDir: string): string {
  const file = join(storageDir, '.virtledger-storage-id');
  if (!existsSync(file)) {
    ensureDir(storageDir);
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    writeFileSync(tmp, `${randomUUID()}\n`);
    try {
      linkSync(tmp, file); // fails if another process won the race; its id then stands
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return readFileSync(file, 'utf8').trim();
}

/**
 * Marks a VM as migrated away from one host, so a redelivered migrate of a VM that is no longer
 * here still succeeds. Per host, because with shared storage the target sees the same dir.
 */
export function tombstonePath(storageDir: string, hostKey: string, vmId: string): string {
  return join(storageDir, `.migrated-${vmId}.${hostKey}.json`);
}
