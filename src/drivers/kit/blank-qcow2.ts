import { readFile, writeFile } from 'node:fs/promises';

/**
 * Blank qcow2 images (no backing file) by virtual size. `qemu-img create -f qcow2` writes the
 * same bytes for the same size every time: a header, the refcount table and block, and an
 * empty L1 table; nothing names the file, the host or the time (the same binary, the same
 * defaults). Starting `qemu-img` is most of a create's cost (40–280 ms on a busy host: an exec
 * and its dynamic linking, for ~200 KB of output), so the first create of a size runs it and
 * keeps its output, and every later create of that size writes those bytes. Like `qemu-img
 * create` (which does not fsync either), the write is not synced; callers write a temporary
 * name and rename it. Kept per process: a `qemu-img` upgraded underneath is picked up at the
 * next start, and an image the old one wrote stays a valid qcow2 for the new one.
 */

/** A blank qcow2 is about 200 KB (1 TiB: ~210 KB); anything much larger is not kept. */
const MAX_TEMPLATE_BYTES = 4 * 1024 * 1024;
/** Sizes kept at once (VM sizes come from a few flavours); the oldest goes first. */
const MAX_TEMPLATES = 16;
/** "QFI\xfb": every qcow2 starts with it; bytes that do not are never kept. */
const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);
/** Header offset 8: the backing file's offset, zero in an image without one. */
const BACKING_OFFSET_AT = 8;

const templates = new Map<number, Buffer>();
/** Images written from a kept template, and `qemu-img` runs made for one (tests, bench). */
export const blankQcow2Stats = { copied: 0, created: 0 };

/**
 * Makes a blank qcow2 of `sizeBytes` at `path` (truncating whatever is there): from the kept
 * bytes of that size, or through `create` (which runs `qemu-img create`), keeping its output.
 */
export async function createBlankQcow2(
  path: string,
  sizeBytes: number,
  create: (path: string, sizeBytes: number) => Promise<void>,
): Promise<void> {
  const kept = templates.get(sizeBytes);
  if (kept) {
    // 0644 as qemu-img creates it (the umask applies to both).
    await writeFile(path, kept, { mode: 0o644 });
    blankQcow2Stats.copied++;
    return;
  }
  await create(path, sizeBytes);
  blankQcow2Stats.created++;
  const bytes = await readFile(path).catch(() => undefined);
  if (bytes && isBlankQcow2(bytes)) {
    if (templates.size >= MAX_TEMPLATES) templates.delete(templates.keys().next().value!);
    templates.set(sizeBytes, bytes);
  }
}

/** A qcow2 header without a backing file, small enough to keep. */
function isBlankQcow2(bytes: Buffer): boolean {
  return (
    bytes.length >= 72 &&
    bytes.length <= MAX_TEMPLATE_BYTES &&
    bytes.subarray(0, 4).equals(QCOW2_MAGIC) &&
    bytes.readBigUInt64BE(BACKING_OFFSET_AT) === 0n
  );
}

/** Forgets every kept image (tests). */
export function forgetBlankQcow2Templates(): void {
  templates.clear();
}
