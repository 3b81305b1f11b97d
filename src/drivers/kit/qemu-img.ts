import { existsSync } from 'node:fs';
import { createBlankQcow2 } from './blank-qcow2.js';
import { writeLockListed } from './image-locks.js';
import { runTool } from './run-tool.js';

const QEMU_IMG = 'qemu-img';
const TIMEOUT_MS = 60_000;
// Every qemu-img runs from the spawn helper: a create, a migration's disk check are on a VM operation's path.

/** Subset of `qemu-img info --output=json`. */
export interface ImageInfo {
  filename: string;
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  /** The backing file's path resolved against the image's own directory. */
  'full-backing-filename'?: string;
  snapshots?: ImageSnapshot[];
}

export interface ImageSnapshot {
  id: string;
  name: string;
  'vm-state-size': number;
  'date-sec': number;
  'date-nsec': number;
  'vm-clock-sec': number;
  'vm-clock-nsec': number;
  icount?: number;
}

/** Creates a qcow2 image; with `backing` it is an overlay on that (qcow2) base. Paths must be absolute. */
export async function createQcow2(path: string, sizeBytes: number, backing?: string): Promise<void> {
  // A blank disk is the same bytes for every create of its size (see blank-qcow2.ts).
  if (!backing) return createBlankQcow2(path, sizeBytes, runCreate);
  await runCreate(path, sizeBytes, backing);
}

async function runCreate(path: string, sizeBytes: number, backing?: string): Promise<void> {
  const args = ['create', '-q', '-f', 'qcow2'];
  if (backing) args.push('-b', backing, '-F', 'qcow2');
  args.push(path, String(sizeBytes));
  await runTool(QEMU_IMG, args, { timeoutMs: TIMEOUT_MS, viaHelper: true });
}

/** Grows an image to sizeBytes (never shrinks: `--shrink` is not passed, so qemu-img refuses a smaller size). */
export async function growImage(path: string, sizeBytes: number): Promise<void> {
  await runTool(QEMU_IMG, ['resize', '-q', '-f', 'qcow2', path, String(sizeBytes)], {
    timeoutMs: TIMEOUT_MS,
    viaHelper: true,
  });
}

/**
 * Reads image metadata. `forceShare` (-U) lets it read an image a running QEMU holds, which
 * otherwise fails with `Failed to get shared "write" lock`.
 */
export async function imageInfo(path: string, options: { forceShare: boolean }): Promise<ImageInfo> {
  const args = ['info', '--output=json'];
  if (options.forceShare) args.push('-U');
  args.push(path);
  const out = await runTool(QEMU_IMG, args, { timeoutMs: TIMEOUT_MS, viaHelper: true });
  return JSON.parse(out) as ImageInfo;
}

/** True when some process holds the image's write lock (a running or incoming QEMU). */
export async function isImageInUse(path: string): Promise<boolean> {
  // Seen in /proc/locks: the answer qemu-img would give, without forking it (see writeLockListed).
  if (await writeLockListed(path)) return true;
  try {
    await imageInfo(path, { forceShare: false });
    return false;
  } catch (err) {
    if (err instanceof Error && /Failed to get .*lock/.test(err.message)) return true;
    // Removed meanwhile (a concurrent destroy, as a redelivered job makes): a file that is gone is held by nobody.
    if (!existsSync(path)) return false;
    throw err;
  }
}

/** Internal snapshot operations on an image no running QEMU holds. */
export async function snapshotImage(path: string, op: 'create' | 'apply' | 'delete', name: string): Promise<void> {
  const flag = op === 'create' ? '-c' : op === 'apply' ? '-a' : '-d';
  await runTool(QEMU_IMG, ['snapshot', flag, name, path], { timeoutMs: TIMEOUT_MS, viaHelper: true });
}

/**
 * Safe-mode rebase of an image no QEMU holds: every cluster that reads differently through the
 * new backing (none: `undefined`) is copied into the image first, so its content stays the same.
 */
export async function rebaseImage(path: string, backing: string | undefined, timeoutMs = TIMEOUT_MS): Promise<void> {
  await rebase(path, backing, timeoutMs, []);
}

/** Points an image at a backing file with the same content under another path (metadata only). */
export async function renameBacking(path: string, backing: string, timeoutMs = TIMEOUT_MS): Promise<void> {
  await rebase(path, backing, timeoutMs, ['-u']);
}

async function rebase(path: string, backing: string | undefined, timeoutMs: number, flags: string[]): Promise<void> {
  const args = ['rebase', '-q', ...flags, '-f', 'qcow2', '-b', backing ?? ''];
  if (backing) args.push('-F', 'qcow2');
  await runTool(QEMU_IMG, [...args, path], { timeoutMs, viaHelper: true });
}

/** Writes an overlay no QEMU holds into its backing file (the overlay is left as it was, now redundant). */
export async function commitImage(path: string, timeoutMs = TIMEOUT_MS): Promise<void> {
  await runTool(QEMU_IMG, ['commit', '-q', '-f', 'qcow2', '-d', path], { timeoutMs, viaHelper: true });
}
