import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  truncateSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { DriverError } from '../hypervisor-driver.port.js';
import { runTool } from '../kit/run-tool.js';
import { ID_MAP_BASE } from './id-map.js';
import { waitGone } from './proc-stat.js';

const GIB = 1024 ** 3;
const TOOL_TIMEOUT_MS = 120_000;
/** How long a cold grow waits for a stopped container's last hold on its disk to go. */
const RELEASE_TIMEOUT_MS = 30_000;

/**
 * The container's disk: a sparse ext4 image of `diskGiB`, loop-mounted, holding its root
 * filesystem, so a container that fills its disk gets ENOSPC at `diskGiB` and the host's
 * filesystem is untouched. No reserved blocks (`-m 0`: they would be for host root, not the
 * container's root), root dir owned by the container's root. Made aside and renamed into place,
 * so a crash never leaves a half-made image that the next call would mount.
 */
export async function createDiskImage(image: string, sizeGiB: number): Promise<void> {
  const part = `${image}.part`;
  rmSync(part, { force: true });
  const fd = openSync(part, 'w', 0o600);
  try {
    ftruncateSync(fd, Math.max(1, sizeGiB) * GIB);
  } finally {
    closeSync(fd);
  }
  try {
    await runTool(
      'mkfs.ext4',
      ['-q', '-F', '-m', '0', '-E', `root_owner=${ID_MAP_BASE}:${ID_MAP_BASE}`, '-L', 'vl-rootfs', part],
      { timeoutMs: TOOL_TIMEOUT_MS },
    );
  } catch (err) {
    rmSync(part, { force: true });
    throw err;
  }
  renameSync(part, image);
}

/**
 * Loop-mounts the image on `dir` unless it is mounted there already (mounts outlive the worker;
 * after a host reboot they are made again here). `nodev`: no device node in it ever works.
 */
export async function mountDiskImage(image: string, dir: string): Promise<void> {
  if (isMountPoint(dir)) return;
  if (!existsSync(image)) throw new DriverError('not_found', `disk image ${image} is missing`);
  prepareMountParent(dirname(dir));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await runTool('mount', ['-t', 'ext4', '-o', 'loop,nodev', '--', image, dir], { timeoutMs: TOOL_TIMEOUT_MS });
}

/**
 * Grows the image to `sizeGiB` and its ext4 with it, while mounted (online: ext4 grows under a
 * running container): the file first (sparse), then the loop device learns its new size
 * (`losetup -c`), then `resize2fs` fills it. Never shrinks. Idempotent: a redelivery after any of
 * the three steps finishes the others (resize2fs on a filesystem that fills its device does nothing).
 * The kernel allows an online resize only with CAP_SYS_RESOURCE (see canGrowOnline).
 */
export async function growDiskImage(image: string, dir: string, sizeGiB: number): Promise<void> {
  const bytes = sizeBytes(sizeGiB);
  if (statSync(image).size < bytes) truncateSync(image, bytes);
  const device = loopDeviceOf(dir);
  if (!device) throw new DriverError('failed', `the disk ${image} is not mounted on ${dir}: cannot grow it online`);
  await runTool('losetup', ['-c', device], { timeoutMs: TOOL_TIMEOUT_MS });
  await runTool('resize2fs', [device], { timeoutMs: TOOL_TIMEOUT_MS });
}

/**
 * Grows an image nobody uses (a stopped container's, at its next start): unmounted first, then the
 * file, a forced check (resize2fs requires one) and resize2fs on the file itself. Needs no
 * capability beyond writing the file. Idempotent like growDiskImage.
 *
 * "Nobody uses" is waited for, not assumed: the host's umount succeeds while a stopped container's
 * mount namespace still holds its copy of the mount (the kernel frees a dead namespace's mounts
 * after its last process, asynchronously, later still on a loaded host), and the filesystem stays
 * live on its loop device until then. A check and resize of the file under that live filesystem
 * is undone, and the filesystem corrupted, when it is finally put away (seen: block count back to
 * 1 GiB, e2fsck -n "illegal blocks"). So the grow starts once no loop device is backed by the image.
 */
export async function growDiskImageOffline(
  image: string,
  dir: string,
  sizeGiB: number,
  releaseTimeoutMs = RELEASE_TIMEOUT_MS,
): Promise<void> {
  const bytes = sizeBytes(sizeGiB);
  await unmountDiskImage(dir);
  await waitDiskReleased(image, releaseTimeoutMs);
  if (statSync(image).size < bytes) truncateSync(image, bytes);
  // 1 is "errors corrected": an image its host crashed under (a journal to replay, orphan inodes) is fine now.
  await runTool('e2fsck', ['-f', '-p', image], { timeoutMs: TOOL_TIMEOUT_MS, okExitCodes: [1] });
  await runTool('resize2fs', [image], { timeoutMs: TOOL_TIMEOUT_MS });
}

function sizeBytes(sizeGiB: number): number {
  if (!Number.isSafeInteger(sizeGiB) || sizeGiB < 1) throw new DriverError('invalid', `invalid diskGiB ${sizeGiB}`);
  return sizeGiB * GIB;
}

/** CAP_SYS_RESOURCE (bit 24), without which the kernel refuses an online ext4 resize (EPERM). */
const CAP_SYS_RESOURCE = 24n;

/** Whether this process may grow a mounted ext4 (an online resize). */
export function canGrowOnline(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && ((BigInt(`0x${hex}`) >> CAP_SYS_RESOURCE) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** The image's size in whole GiB, rounded down (what it was made or last grown to). */
export function diskImageGiB(image: string): number {
  return Math.floor(statSync(image).size / GIB);
}

/** The loop device mounted on `dir` (from /proc/self/mountinfo), only ever a /dev/loopN. */
function loopDeviceOf(dir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (unescapeMount(fields[4] ?? '') !== dir) continue;
    // After the optional fields: " - <fstype> <source> <super options>".
    const sep = fields.indexOf('-', 6);
    const source = sep > 0 ? fields[sep + 2] : undefined;
    if (source && /^\/dev\/loop\d+$/.test(source)) return source;
  }
  return undefined;
}

/**
 * Unmounts the disk (the loop device goes with it: mount -o loop sets autoclear). A mount still
 * busy (a process of a dying container holding a file) is detached lazily: it is freed when the
 * last user goes, and the image can be removed now.
 */
export async function unmountDiskImage(dir: string): Promise<void> {
  if (!isMountPoint(dir)) return;
  try {
    await runTool('umount', ['--', dir], { timeoutMs: TOOL_TIMEOUT_MS });
  } catch (err) {
    if (!isMountPoint(dir)) return;
    try {
      await runTool('umount', ['-l', '--', dir], { timeoutMs: TOOL_TIMEOUT_MS });
    } catch {
      if (isMountPoint(dir)) throw err;
    }
  }
  // The empty mount point, and the host's dir once it holds no other: nothing left in /run.
  for (const d of [dir, dirname(dir)]) {
    try {
      rmdirSync(d);
    } catch {
      break; // not empty (another VM's mount point), or already gone
    }
  }
}

/**
 * The dir holding one host's mount points, as Docker lays out its userns-remapped root: owned by
 * root, group = the containers' root group, mode 0710, so runc (acting as the container's root)
 * can pass through to a root filesystem while no other host user can even look in. Its parents
 * need only be searchable (the default /run/virtledger/containers is made 0711). The storage dir
 * (specs, snapshots, console logs) stays private to root.
 */
function prepareMountParent(hostDir: string): void {
  for (let d = dirname(hostDir); !existsSync(d); d = dirname(d)) {
    mkdirSync(d, { recursive: true, mode: 0o711 });
  }
  const base = dirname(hostDir);
  if (!existsSync(hostDir)) mkdirSync(hostDir, { mode: 0o710 });
  chmodSync(base, 0o711);
  chownSync(hostDir, 0, ID_MAP_BASE);
  chmodSync(hostDir, 0o710);
}

/** Whether something is mounted exactly on `dir` in this mount namespace (/proc/self/mountinfo). */
export function isMountPoint(dir: string): boolean {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => unescapeMount(line.split(' ')[4] ?? '') === dir);
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The loop devices backed by `image` (from sysfs: /sys/block/loopN/loop/backing_file). */
export function loopDevicesBacking(image: string): string[] {
  let path: string;
  let names: string[];
  try {
    path = realpathSync(image);
    names = readdirSync('/sys/block').filter((n) => /^loop\d+$/.test(n));
  } catch {
    return [];
  }
  return names.filter((n) => {
    try {
      return readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trimEnd() === path;
    } catch {
      return false; // not attached (no backing_file), or detached while we looked
    }
  });
}

/** Resolves once no loop device is backed by `image` (polled: the kernel gives no event for a loop device's autoclear). */
export async function waitDiskReleased(image: string, timeoutMs: number): Promise<void> {
  if (await waitGone(() => loopDevicesBacking(image).length === 0, timeoutMs)) return;
  const held = loopDevicesBacking(image);
  if (held.length === 0) return; // let go just after the last look
  // A timeout, so the step is retried: the hold is expected to go.
  throw new DriverError(
    'timeout',
    `the disk ${image} is still in use on /dev/${held.join(', /dev/')} ${timeoutMs} ms after it was unmounted ` +
      '(a process of the stopped container may still hold it): not grown',
  );
}
