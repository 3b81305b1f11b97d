/**
 * The qcow2 files of one libvirt VM as a tree: external disk-only snapshots freeze the file the
 * VM wrote to and put an overlay on it; reverting to one puts a fresh overlay on its frozen file,
 * so several overlays can share a parent. This file decides, without touching anything, what an
 * operation may do to that tree. The three rules that keep every snapshot intact:
 * - a file with children is never written (they read through it), so it is never reverted into;
 * - a file holding internal (memory) snapshots is never rebased or pulled into: those snapshots
 *   read unallocated clusters through its backing file, which must not change under them;
 * - a file is removed only when no snapshot, no child and not the VM itself needs it.
 */

export interface ChainImage {
  /** Absolute path. */
  file: string;
  /** Absolute path of its backing file (in the VM's dir, or the base image it was made from). */
  backing?: string;
  /** Names of the internal snapshots stored in it (libvirt memory snapshots). */
  internal: string[];
}

export interface ExternalSnapshot {
  name: string;
  /** The frozen file: the VM's disk as it was when the snapshot was taken. */
  image: string;
  createdAt: string;
  /** The overlay the snapshot creates; set while creation is in flight, so a retry can finish it. */
  pending?: string;
}

/** What `<vmDir>/disk-snapshots.json` holds. Files are absolute paths. */
export interface ChainRecord {
  /** Next overlay number: overlays are `disk.<n>.qcow2`, never reused. */
  seq: number;
  snapshots: ExternalSnapshot[];
  /** Written by a cold migration's source: the file the target defines the VM on. */
  active?: string;
}

export type RemovalPlan =
  /**
   * Copy F's clusters into each child, which then backs onto F's parent; F is removed. `pull`
   * is the running VM's disk when F is in its open chain (a blockpull does that one live).
   */
  | { kind: 'rebase'; frozen: string; parent?: string; pull?: string; rebase: string[] }
  /** F holds memory snapshots, or a file that would be rewritten does: F stays in the chain. */
  | { kind: 'keep'; frozen: string; pinnedBy: string[] };

export function childrenOf(images: ChainImage[], file: string): ChainImage[] {
  return images.filter((i) => i.backing === file);
}

/** The open chain of a disk: itself, then its backing files within the VM's files, top to bottom. */
export function chainOf(images: ChainImage[], top: string): string[] {
  const byFile = new Map(images.map((i) => [i.file, i]));
  const out: string[] = [];
  for (let f: string | undefined = top; f !== undefined && byFile.has(f) && !out.includes(f);) {
    out.push(f);
    f = byFile.get(f)?.backing;
  }
  return out;
}

/**
 * The disk merged into its backing file, when that loses nothing: the backing file is ours, no
 * snapshot has it as its frozen file, the disk is its only child, and the disk holds no memory
 * snapshot (it is removed afterwards). Memory snapshots in the backing file survive: qcow2
 * copies on write for them. This is how deleting the newest snapshot undoes taking it.
 */
export function planCompaction(
  images: ChainImage[],
  active: string,
  record: ChainRecord,
  ownDir: string,
): { top: string; base: string } | undefined {
  const top = images.find((i) => i.file === active);
  const base = top?.backing;
  if (!top || !base?.startsWith(`${ownDir}/`) || top.internal.length > 0) return undefined;
  if (!images.some((i) => i.file === base)) return undefined;
  if (record.snapshots.some((x) => x.image === base || x.pending === base)) return undefined;
  const children = childrenOf(images, base);
  return children.length === 1 && children[0]?.file === active ? { top: active, base } : undefined;
}

/**
 * Removing `frozen`, a file no snapshot names any more that is still a backing file (several
 * children, or under the disk with others in between). `running` says whether a QEMU has
 * `active`'s chain open, whose files can then only change through libvirt.
 */
export function planRemoval(images: ChainImage[], active: string, frozen: string, running: boolean): RemovalPlan {
  const f = images.find((i) => i.file === frozen);
  const children = childrenOf(images, frozen);
  const pinned = (i: ChainImage) => i.internal.length > 0;
  const inOpenChain = running && chainOf(images, active).includes(frozen);
  const activeImage = images.find((i) => i.file === active);
  const rewritten = [...children, ...(inOpenChain && activeImage ? [activeImage] : [])];
  const pins = [...(f && pinned(f) ? [f] : []), ...rewritten.filter(pinned)];
  if (pins.length > 0) {
    return { kind: 'keep', frozen, pinnedBy: [...new Set(pins.flatMap((i) => i.internal))] };
  }
  return {
    kind: 'rebase',
    frozen,
    ...(f?.backing ? { parent: f.backing } : {}),
    ...(inOpenChain ? { pull: active } : {}),
    rebase: children.map((c) => c.file).filter((c) => !(inOpenChain && c === active)),
  };
}

/**
 * Files no one needs any more: not the disk, not a snapshot's frozen file (pending ones
 * included), no memory snapshot in them, no children. Removing one can free its parent, so
 * this runs to a fixed point. Files outside `ownDir` (a base image) are never candidates.
 */
export function unneededImages(images: ChainImage[], active: string, record: ChainRecord, ownDir: string): string[] {
  const needed = new Set<string>([active]);
  for (const s of record.snapshots) {
    needed.add(s.image);
    if (s.pending) needed.add(s.pending);
  }
  let left = images;
  const gone: string[] = [];
  for (;;) {
    const dead = left.filter(
      (i) =>
        i.file.startsWith(`${ownDir}/`) &&
        !needed.has(i.file) &&
        i.internal.length === 0 &&
        childrenOf(left, i.file).length === 0,
    );
    if (dead.length === 0) return gone;
    gone.push(...dead.map((d) => d.file));
    left = left.filter((i) => !dead.includes(i));
  }
}

/**
 * The snapshots that forbid reverting to a memory snapshot stored in `file`: reverting makes
 * that file the disk again and writes into it, which would change every disk-only snapshot
 * frozen in it or above it, and every memory snapshot in a file that reads through it.
 */
export function revertBlockers(images: ChainImage[], file: string, record: ChainRecord): string[] {
  const through = new Set(images.filter((i) => chainOf(images, i.file).includes(file)).map((i) => i.file));
  return [
    ...record.snapshots.filter((s) => through.has(s.image)).map((s) => s.name),
    ...images.filter((i) => i.file !== file && through.has(i.file)).flatMap((i) => i.internal),
  ];
}
