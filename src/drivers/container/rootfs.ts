import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  closeSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { DriverError } from '../hypervisor-driver.port.js';
import { runTool } from '../kit/run-tool.js';
import { resolveInCatalog } from '../kit/image-catalog.js';

/** Dirs runc mounts proc, dev and sysfs on: real directories of the root filesystem, made at define. */
export const MOUNT_POINTS = ['proc', 'dev', 'sys'] as const;

/** The generated root filesystem's PID 1: up until SIGTERM, so a graceful stop is quick. */
export const BUSYBOX_INIT = `#!/bin/sh
# virtledger container init (PID 1). A namespace's init gets only the signals it handles,
# so without this trap SIGTERM from the host would be ignored and every stop would need SIGKILL.
trap 'exit 0' TERM INT
[ -x /etc/rc.local ] && /etc/rc.local
while :; do sleep 3600 & wait $!; done
`;

export type ImageSource = { kind: 'busybox' } | { kind: 'dir'; path: string };

/**
 * `spec.image`: absent or `busybox` → a root filesystem generated from the host's static busybox;
 * a name → that directory inside one of the allowed image dirs; an absolute path → accepted only
 * if, symlinks resolved, it lies inside an allowed image dir (no `..`, no escape through a link).
 */
export function resolveImage(image: string | undefined, imageDirs: string[]): ImageSource {
  if (image === undefined || image === '' || image === 'busybox') return { kind: 'busybox' };
  const real = resolveInCatalog(image, imageDirs);
  if (!lstatSync(real).isDirectory()) throw new DriverError('failed', `image ${image} is not a directory`);
  try {
    lstatSync(join(real, 'sbin', 'init'));
  } catch {
    throw new DriverError('failed', `image ${image} has no /sbin/init to run as the container's init`);
  }
  return { kind: 'dir', path: real };
}

/** Makes `dest` (absent) a root filesystem from the image; the caller renames it into place. */
export async function buildRootfs(source: ImageSource, dest: string, busybox: string): Promise<void> {
  if (source.kind === 'dir') {
    await copyTree(source.path, dest);
  } else {
    await buildBusyboxRootfs(dest, busybox);
  }
  for (const d of MOUNT_POINTS) mkdirSync(join(dest, d), { recursive: true, mode: 0o755 });
}

async function buildBusyboxRootfs(dest: string, busybox: string): Promise<void> {
  if (!isStaticElf(busybox)) {
    throw new DriverError(
      'failed',
      `${busybox} is not a static executable (install busybox-static): it must run inside the container`,
    );
  }
  for (const d of ['bin', 'sbin', 'etc', 'root', 'tmp', 'var', ...MOUNT_POINTS]) {
    mkdirSync(join(dest, d), { recursive: true, mode: 0o755 });
  }
  chmodSync(join(dest, 'tmp'), 0o1777);
  copyFileSync(busybox, join(dest, 'bin', 'busybox'));
  chmodSync(join(dest, 'bin', 'busybox'), 0o755);
  const applets = (await runTool(busybox, ['--list'], { timeoutMs: 10_000 })).split('\n').filter(Boolean);
  for (const applet of applets) {
    if (applet === 'busybox' || !/^[A-Za-z0-9._[-]+$/.test(applet)) continue;
    symlinkSync('busybox', join(dest, 'bin', applet));
  }
  writeFileSync(join(dest, 'sbin', 'init'), BUSYBOX_INIT, { mode: 0o755 });
  writeFileSync(join(dest, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(dest, 'etc', 'group'), 'root:x:0:\n');
}

/** `cp -a`: keeps modes, owners, links and device nodes, which a root filesystem needs. */
export async function copyTree(from: string, to: string, signal?: AbortSignal): Promise<void> {
  await runTool('cp', ['-a', '--reflink=auto', '--', from, to], { timeoutMs: 10 * 60_000, signal });
}

/**
 * Refuses a root filesystem whose mount points are symlinks: runc resolves mount targets inside
 * the root (securejoin) already; this answers with a clear error before anything starts.
 */
export function assertMountPoints(rootfs: string): void {
  for (const d of MOUNT_POINTS) {
    let ok: boolean;
    try {
      const st = lstatSync(join(rootfs, d));
      ok = st.isDirectory() && !st.isSymbolicLink();
    } catch {
      ok = false;
    }
    if (!ok) throw new DriverError('failed', `${join(rootfs, d)} must be a real directory of the root filesystem`);
  }
}

/** Makes a mount point a root filesystem from an older release lacks (`sys`); an existing entry is left for assertMountPoints. */
export function ensureMountPoints(rootfs: string): void {
  for (const d of MOUNT_POINTS) if (!exists(join(rootfs, d))) mkdirSync(join(rootfs, d), { mode: 0o755 });
}

/** An ELF file without a PT_INTERP program header needs no dynamic loader. */
function isStaticElf(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return false; // ELF64 only
    const phoff = Number(head.readBigUInt64LE(0x20));
    const phentsize = head.readUInt16LE(0x36);
    const phnum = head.readUInt16LE(0x38);
    const table = Buffer.alloc(phentsize * phnum);
    readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    closeSync(fd);
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
