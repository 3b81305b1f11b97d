import { readFile, stat } from 'node:fs/promises';

/**
 * QEMU's image locking (file-posix): a process that holds permission `i` on an image locks byte
 * 100 + i of the file, one that refuses to share it locks byte 200 + i (OFD locks, or POSIX ones
 * where OFD is missing). WRITE is permission 1: byte 101 is locked by whoever may write the image.
 * That lock is what makes `qemu-img info` (which will not share WRITE) fail with `Failed to get
 * shared "write" lock`.
 */
const WRITE_PERM_BYTE = 101n;

/** The kernel's MAJOR/MINOR of a stat dev_t (glibc's encoding), as /proc/locks prints them. */
function majorMinor(dev: bigint): { major: bigint; minor: bigint } {
  return {
    major: ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn),
    minor: (dev & 0xffn) | ((dev >> 12n) & ~0xffn),
  };
}

/**
 * True when /proc/locks shows a lock on the image's write-permission byte, taken by any process
 * (a QEMU running it, or one receiving it). Without a fork of `qemu-img`: a migration target asks
 * this while its own QEMU starts, and on a small machine the fork competed with that start for the
 * CPU. False when no such lock is listed here, which does not prove nobody holds it (a lock taken
 * on another machine of a network filesystem, a filesystem whose stat device is not the one the
 * kernel lists locks under): the caller asks `qemu-img` then. Undefined when /proc/locks or the
 * image cannot be read.
 *
 * Read off the event loop: on some kernels a read of /proc/locks waits 5–30 ms (measured on this
 * project's CI VM: ~0.2 ms of CPU, the rest waiting in the kernel), and a synchronous read held
 * the whole process for that long while the target QEMU started, the worker's other jobs, the
 * QMP replies and the API waiting behind it.
 */
export async function writeLockListed(path: string): Promise<boolean | undefined> {
  let dev: bigint;
  let ino: bigint;
  let table: string;
  try {
    ({ dev, ino } = await stat(path, { bigint: true }));
    table = await readFile('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  const { major, minor } = majorMinor(dev);
  for (const line of table.split('\n')) {
    // "1: OFDLCK ADVISORY  READ -1 fe:00:2277698 101 101"; a waiter's line ("1: -> …") holds nothing.
    const m = LOCK_LINE.exec(line.trim());
    if (!m) continue;
    const [, maj, min, inode, start, end] = m;
    if (BigInt(`0x${maj!}`) !== major || BigInt(`0x${min!}`) !== minor || BigInt(inode!) !== ino) continue;
    if (BigInt(start!) <= WRITE_PERM_BYTE && (end === 'EOF' || BigInt(end!) >= WRITE_PERM_BYTE)) return true;
  }
  return false;
}

const LOCK_LINE = /^\d+:\s+[A-Z]+\s+[A-Z]+\s+[A-Z]+\s+-?\d+\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s+(\d+)\s+(\d+|EOF)$/;
