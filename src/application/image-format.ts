import { open } from 'node:fs/promises';
import type { ImageFormat } from '../domain/image/image.events.js';
import { listTar, type TarEntry } from './tar-entries.js';

/** What an upload was recognised as, or why it is not an image. */
export type Detected = { format: ImageFormat; members?: string[] } | { refusal: string };

const HEAD_BYTES = 64 * 1024;
/** The files a kernel bundle may hold (scripts/build-guest.sh writes the first three). */
export const KERNEL_MEMBERS = ['vmlinuz', 'initrd.gz', 'cmdline'] as const;

async function head(path: string): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const isQcow2 = (b: Buffer) => b.length >= 4 && b[0] === 0x51 && b[1] === 0x46 && b[2] === 0x49 && b[3] === 0xfb;
const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const isUstar = (b: Buffer) => b.length >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';

/**
 * A raw disk is whole 512-byte sectors and starts like a disk: an MBR boot signature (0x55AA
 * at 510; GPT disks carry a protective MBR too), a GPT header at LBA 1, or an ext2/3/4
 * superblock (magic 0xEF53 at 1080) for a bare filesystem image. Anything else of the right
 * size (a text file padded to 512) is not taken for a disk.
 */
function isRawDisk(b: Buffer, size: number): boolean {
  if (size === 0 || size % 512 !== 0) return false;
  const mbr = b.length >= 512 && b[510] === 0x55 && b[511] === 0xaa;
  const gpt = b.length >= 520 && b.subarray(512, 520).toString('latin1') === 'EFI PART';
  const ext = b.length >= 1082 && b[1080] === 0x53 && b[1081] === 0xef;
  return mbr || gpt || ext;
}

/**
 * A qcow2 that names another file (a backing file, an external data file) would have QEMU open
 * that path on the host: the catalog takes self-contained images only.
 */
function qcow2Refusal(b: Buffer): string | undefined {
  if (b.length < 104) return 'a truncated qcow2 header';
  const version = b.readUInt32BE(4);
  if (b.readBigUInt64BE(8) !== 0n)
    return 'a qcow2 with a backing file: upload a self-contained image (qemu-img convert -O qcow2)';
  if (version >= 3 && (b.readBigUInt64BE(72) & 4n) !== 0n) return 'a qcow2 with an external data file';
  return undefined;
}

const UNSAFE_TYPES: Record<string, string> = { '3': 'a character device', '4': 'a block device', '6': 'a fifo' };

/** A tar is a kernel bundle (a regular `vmlinuz` at its top) or a container rootfs (`sbin/init`). */
function classifyTar(entries: TarEntry[]): Detected {
  for (const e of entries) {
    if (e.name.startsWith('/') || e.name.split('/').includes('..')) {
      return { refusal: `tar member ${JSON.stringify(e.name)} leaves the archive's root` };
    }
  }
  const unsafe = entries.find((e) => UNSAFE_TYPES[e.type]);
  if (unsafe)
    return { refusal: `tar member ${unsafe.name} is ${UNSAFE_TYPES[unsafe.type]}; devices come from the runtime` };
  const vmlinuz = entries.find((e) => e.name === 'vmlinuz');
  if (vmlinuz) {
    for (const name of KERNEL_MEMBERS) {
      const e = entries.find((x) => x.name === name);
      if (e && e.type !== '0') return { refusal: `kernel bundle: ${name} must be a regular file` };
    }
    return { format: 'kernel', members: KERNEL_MEMBERS.filter((n) => entries.some((e) => e.name === n)) };
  }
  if (entries.some((e) => e.name === 'sbin/init')) {
    return { format: 'rootfs' };
  }
  return { refusal: 'a tar archive with neither vmlinuz (a kernel bundle) nor sbin/init (a container rootfs)' };
}

/**
 * Tells what an uploaded file is from its content, never its name: qcow2 (magic `QFI\xfb`), a
 * kernel bundle or rootfs (tar, gzip-compressed or not), or a raw disk (see isRawDisk).
 */
export async function detectImageFormat(path: string, size: number): Promise<Detected> {
  const b = await head(path);
  if (isQcow2(b)) {
    const refusal = qcow2Refusal(b);
    return refusal ? { refusal } : { format: 'qcow2' };
  }
  if (isGzip(b) || isUstar(b)) {
    let entries: TarEntry[];
    try {
      entries = await listTar(path, isGzip(b));
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      return { refusal: isGzip(b) ? `gzip data that is not a tar archive (${why})` : why };
    }
    return classifyTar(entries);
  }
  if (isRawDisk(b, size)) return { format: 'raw' };
  return {
    refusal:
      'not an image: expected qcow2, a raw disk (MBR, GPT or ext superblock; whole 512-byte sectors), ' +
      'or a tar (optionally gzip) holding vmlinuz (kernel bundle) or sbin/init (container rootfs)',
  };
}
