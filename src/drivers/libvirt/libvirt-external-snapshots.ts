import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { DriverError, type CallContext, type SnapshotInfo } from '../hypervisor-driver.port.js';
import { commitImage, createQcow2, imageInfo, rebaseImage, renameBacking, snapshotImage } from '../kit/qemu-img.js';
import { runTool } from '../kit/run-tool.js';
import { readJson, writeJsonAtomic } from '../kit/vm-files.js';
import {
  chainOf,
  childrenOf,
  planCompaction,
  planRemoval,
  revertBlockers,
  unneededImages,
  type ChainImage,
  type ChainRecord,
  type ExternalSnapshot,
} from './disk-chain.js';
import type { VirshCall } from './libvirt-migration.js';

const RECORD_FILE = 'disk-snapshots.json';
const DISK_FILE = /^disk(\.\d+)?\.qcow2$/;
/** Block jobs copy or merge whole images: bounded, but far beyond one virsh call's deadline. */
const BLOCK_JOB_TIMEOUT_MS = 30 * 60_000;

/** One VM's disk files, seen through its libvirt domain. */
export interface DiskChainScope {
  virsh: VirshCall;
  domain: string;
  vmDir: string;
  ctx: CallContext;
  /** Whether a QEMU has the disk open now (its files then change only through libvirt). */
  running: () => Promise<boolean>;
  /** Redefines the (inactive) domain with this file as its disk. */
  defineWithDisk: (disk: string) => Promise<void>;
  /** Attached volumes' files: left out of a disk-only snapshot (libvirt would give each an overlay of its own). */
  volumes?: string[];
}

/**
 * External disk-only snapshots (`snapshot-create-as --disk-only --no-metadata`): libvirt 9 can
 * take them, live or not, but cannot revert or delete them, so this module keeps their record
 * (`disk-snapshots.json` next to the disk) and does both itself, with the block jobs libvirt
 * does offer (blockcommit, blockpull) on a running VM and qemu-img on a stopped one. What each
 * step may touch is decided in disk-chain.ts.
 */
export function readChainRecord(vmDir: string): ChainRecord {
  return readJson<ChainRecord>(join(vmDir, RECORD_FILE)) ?? { seq: 1, snapshots: [] };
}

function writeChainRecord(vmDir: string, record: ChainRecord): void {
  writeJsonAtomic(join(vmDir, RECORD_FILE), record);
}

export function listExternal(vmDir: string): SnapshotInfo[] {
  return readChainRecord(vmDir)
    .snapshots.filter((s) => !s.pending)
    .map((s) => ({ name: s.name, memory: false, createdAt: s.createdAt }));
}

export function findExternal(vmDir: string, name: string): ExternalSnapshot | undefined {
  return readChainRecord(vmDir).snapshots.find((s) => s.name === name && !s.pending);
}

/** The file the domain's vda is (for an inactive domain, the persistent definition's). */
export async function activeDisk(s: DiskChainScope): Promise<string> {
  const out = await s.virsh(['domblklist', s.domain, '--details'], s.ctx);
  const m = /^\s*\S+\s+disk\s+vda\s+(.+?)\s*$/m.exec(out);
  if (!m) throw new DriverError('failed', `domain ${s.domain} has no vda disk (domblklist: ${out.trim()})`);
  return m[1]!;
}

/** Every disk file in the VM's dir with its backing file and internal snapshots, read from the files. */
export async function scanImages(vmDir: string): Promise<ChainImage[]> {
  const files = existsSync(vmDir) ? readdirSync(vmDir).filter((f) => DISK_FILE.test(f)) : [];
  return Promise.all(
    files.map(async (f) => {
      const file = join(vmDir, f);
      // -U: a running QEMU holds the disk's lock; only metadata is read.
      const info = await imageInfo(file, { forceShare: true });
      const backing = info['full-backing-filename'] ?? info['backing-filename'];
      return { file, ...(backing ? { backing } : {}), internal: (info.snapshots ?? []).map((x) => x.name) };
    }),
  );
}

/**
 * Takes (or, after a crash mid-way, finishes) external snapshot `name`: the current disk is
 * frozen and a new overlay `disk.<n>.qcow2` takes the writes. Recorded before libvirt is asked,
 * so a retry knows which overlay belongs to it.
 */
export async function takeExternal(s: DiskChainScope, name: string): Promise<SnapshotInfo> {
  const record = readChainRecord(s.vmDir);
  const active = await activeDisk(s);
  let entry = record.snapshots.find((x) => x.name === name);
  if (entry?.pending && entry.pending === active) {
    delete entry.pending; // the snapshot was taken; only the record was not finished
  } else if (!entry?.pending) {
    if (entry) return { name, memory: false, createdAt: entry.createdAt };
    entry = { name, image: active, createdAt: new Date().toISOString(), pending: nextOverlay(s.vmDir, record) };
    record.snapshots.push(entry);
    writeChainRecord(s.vmDir, record);
  } else {
    // libvirt did not switch to the overlay: it failed (--atomic leaves nothing) or never ran.
    rmSync(entry.pending, { force: true });
    entry.image = active;
  }
  if (entry.pending) {
    await s.virsh(
      [
        'snapshot-create-as',
        s.domain,
        name,
        '--disk-only',
        '--atomic',
        '--no-metadata',
        '--diskspec',
        `vda,snapshot=external,file=${entry.pending}`,
        ...(s.volumes ?? []).flatMap((path) => ['--diskspec', `${path},snapshot=no`]),
      ],
      s.ctx,
    );
    const now = await activeDisk(s);
    if (now !== entry.pending) {
      throw new DriverError('failed', `snapshot ${name}: the disk of ${s.domain} is ${now}, not ${entry.pending}`);
    }
    delete entry.pending;
  }
  writeChainRecord(s.vmDir, record);
  return { name, memory: false, createdAt: entry.createdAt };
}

/**
 * The VM (already stopped by the caller) gets a fresh overlay on the snapshot's frozen file,
 * which stays as it is, so the snapshot can be reverted to again; the disk it had is removed
 * unless another snapshot still needs it.
 */
export async function revertExternal(s: DiskChainScope, snap: ExternalSnapshot): Promise<void> {
  const record = readChainRecord(s.vmDir);
  const overlay = nextOverlay(s.vmDir, record);
  writeChainRecord(s.vmDir, record);
  const size = (await imageInfo(snap.image, { forceShare: true }))['virtual-size'];
  await createQcow2(overlay, size, snap.image);
  await s.defineWithDisk(overlay);
  await tidy(s);
}

/**
 * Deletes external snapshot `snap` keeping every other one intact. The record goes first: from
 * then on its frozen file is an ordinary part of the chain, still read correctly, which tidy()
 * merges or removes, so a crash anywhere loses nothing and the next tidy() finishes the job.
 */
export async function deleteExternal(s: DiskChainScope, snap: ExternalSnapshot): Promise<void> {
  const record = readChainRecord(s.vmDir);
  record.snapshots = record.snapshots.filter((x) => x.name !== snap.name);
  writeChainRecord(s.vmDir, record);
  await tidy(s);
}

/**
 * Before a memory snapshot is reverted to: the file it lives in must not be something later
 * disk-only snapshots read through (libvirt would write into it).
 */
export async function assertRevertableInternal(s: DiskChainScope, name: string): Promise<void> {
  const images = await scanImages(s.vmDir);
  const home = images.find((i) => i.internal.includes(name));
  if (!home) return;
  const blockers = revertBlockers(images, home.file, readChainRecord(s.vmDir));
  if (blockers.length > 0) {
    throw new DriverError(
      'conflict',
      `memory snapshot ${name} was taken before the snapshots ${blockers.join(', ')}, which build on its disk file; ` +
        `delete them before reverting to ${name}`,
    );
  }
}

/**
 * Deletes memory snapshot `name`. libvirt looks for it only in the current disk file, so one
 * that stays in an older file (frozen by a disk-only snapshot, or left by a revert) is removed
 * from that file here, which needs the file closed.
 */
export async function deleteInternal(s: DiskChainScope, name: string): Promise<void> {
  const images = await scanImages(s.vmDir);
  const home = images.find((i) => i.internal.includes(name));
  const active = await activeDisk(s);
  if (!home || home.file === active) {
    await s.virsh(['snapshot-delete', s.domain, name], s.ctx);
  } else if (chainOf(images, active).includes(home.file) && (await s.running())) {
    throw new DriverError(
      'conflict',
      `memory snapshot ${name} is stored in ${home.file}, which the running VM reads; stop it to delete ${name}`,
    );
  } else {
    await snapshotImage(home.file, 'delete', name);
    await s.virsh(['snapshot-delete', s.domain, name, '--metadata'], s.ctx);
  }
  await tidy(s);
}

/**
 * Runs after every snapshot change, until nothing is left to do: merges the disk into its
 * backing file while that loses nothing (planCompaction); takes out a backing file no snapshot
 * names any more unless memory snapshots pin it (planRemoval); removes the files nothing needs
 * (unneededImages).
 */
export async function tidy(s: DiskChainScope): Promise<void> {
  for (;;) {
    const images = await scanImages(s.vmDir);
    const active = await activeDisk(s);
    const record = readChainRecord(s.vmDir);
    const merge = planCompaction(images, active, record, s.vmDir);
    if (merge) {
      await mergeIntoBacking(s, merge.top, merge.base);
      continue;
    }
    const named = new Set([active, ...record.snapshots.flatMap((x) => [x.image, ...(x.pending ? [x.pending] : [])])]);
    const unnamed = images.filter(
      (i) => i.file.startsWith(`${s.vmDir}/`) && !named.has(i.file) && childrenOf(images, i.file).length > 0,
    );
    const running = unnamed.length > 0 && (await s.running());
    const plan = unnamed.map((i) => planRemoval(images, active, i.file, running)).find((p) => p.kind === 'rebase');
    if (!plan || plan.kind !== 'rebase') break;
    if (plan.pull) {
      const base = plan.parent ? ['--base', plan.parent] : [];
      await s.virsh(['blockpull', s.domain, 'vda', ...base, '--wait'], s.ctx, BLOCK_JOB_TIMEOUT_MS);
    }
    for (const child of plan.rebase) await rebaseImage(child, plan.parent, BLOCK_JOB_TIMEOUT_MS);
    rmSync(plan.frozen, { force: true });
  }
  const gone = unneededImages(await scanImages(s.vmDir), await activeDisk(s), readChainRecord(s.vmDir), s.vmDir);
  for (const f of gone) rmSync(f, { force: true });
}

/** The disk's writes go into its backing file, which becomes the disk; the old disk file is removed. */
async function mergeIntoBacking(s: DiskChainScope, top: string, base: string): Promise<void> {
  if (await s.running()) {
    const args = ['blockcommit', s.domain, 'vda', '--active', '--pivot', '--top', top, '--base', base, '--wait'];
    await s.virsh(args, s.ctx, BLOCK_JOB_TIMEOUT_MS);
  } else {
    await commitImage(top, BLOCK_JOB_TIMEOUT_MS);
    await s.defineWithDisk(base);
  }
  rmSync(top, { force: true });
}

/**
 * Why the VM's disk cannot migrate live, or undefined: the mirror copies the running disk into
 * one file at the target, so the snapshots' files would stay behind.
 */
export async function migrationBlocker(s: DiskChainScope, active: string): Promise<string | undefined> {
  const names = readChainRecord(s.vmDir).snapshots.map((x) => x.name);
  if (names.length > 0) return `it has disk-only snapshots (${names.join(', ')}): delete them before migrating`;
  const images = await scanImages(s.vmDir);
  const chain = chainOf(images, active).filter((f) => f.startsWith(`${s.vmDir}/`));
  if (chain.length <= 1) return undefined;
  const pins = images.filter((i) => chain.includes(i.file)).flatMap((i) => i.internal);
  return `its disk is a chain of ${chain.length} files, kept by the memory snapshots ${pins.join(', ')}: delete them before migrating`;
}

/**
 * Cold migration, source side: every disk file and the record go to `toDir` (undefined: shared
 * storage, they are already there), backing paths rewritten to it, and the record names the
 * file the VM runs on, for the target's finishIncoming.
 */
export async function handOverChain(s: DiskChainScope, toDir: string | undefined, timeoutMs: number): Promise<void> {
  const record = readChainRecord(s.vmDir);
  const active = await activeDisk(s);
  const moved = (p: string) => (toDir && p.startsWith(`${s.vmDir}/`) ? join(toDir, basename(p)) : p);
  if (toDir) {
    for (const image of await scanImages(s.vmDir)) {
      const copy = moved(image.file);
      await runTool('cp', ['--sparse=always', '--', image.file, copy], { timeoutMs, signal: s.ctx.signal });
      if (image.backing && moved(image.backing) !== image.backing) await renameBacking(copy, moved(image.backing));
    }
  }
  const out: ChainRecord = {
    seq: record.seq,
    snapshots: record.snapshots.map((x) => ({
      ...x,
      image: moved(x.image),
      ...(x.pending ? { pending: moved(x.pending) } : {}),
    })),
    active: moved(active),
  };
  writeChainRecord(toDir ?? s.vmDir, out);
}

function nextOverlay(vmDir: string, record: ChainRecord): string {
  for (;;) {
    const file = join(vmDir, `disk.${record.seq++}.qcow2`);
    if (!existsSync(file)) return file;
  }
}
