import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, type DomainState, type SnapshotInfo } from '../hypervisor-driver.port.js';
import { runTool } from '../kit/run-tool.js';
import { SAFE_NAME } from '../kit/safe-name.js';
import { readJson, writeJsonAtomic } from '../kit/vm-files.js';
import { freeze, freezeState, thaw } from './container-cgroups.js';
import type { ContainerDomain } from './container-domain.js';
import { copyTree } from './rootfs.js';

interface SnapshotMeta {
  name: string;
  createdAt: string;
  sizeBytes: number;
  /** Taken from a running container under freeze: crash-consistent, like pulling the plug. */
  whileRunning: boolean;
}

/**
 * A snapshot in the making is copied into `snapshots/.part-<name>/` and renamed when complete:
 * a leading dot is outside SAFE_NAME, so no user-given name can ever be that dir. (An older
 * release used `<name>.part`, so a user snapshot `s1.part` was deleted by taking `s1`.) Names
 * ending in `.part` stay refused, so such a leftover dir is never shown or reverted to.
 */
function partDir(dom: ContainerDomain, name: string): string {
  return join(dom.paths.snapshots, `.part-${name}`);
}

/** Refuses a name that could meet an internal dir on disk; the API's name pattern already holds the rest. */
export function assertSnapshotName(name: string): void {
  if (name.endsWith('.part')) {
    throw new DriverError(
      'failed',
      `invalid snapshot name ${JSON.stringify(name)}: names ending in .part are reserved`,
    );
  }
}

/** `snapshots/<name>/` holds `rootfs/` and `meta.json`; a dir without meta.json is an interrupted copy. */
export function listSnapshots(dom: ContainerDomain): SnapshotInfo[] {
  dom.requireSpec();
  if (!existsSync(dom.paths.snapshots)) return [];
  const out: SnapshotInfo[] = [];
  for (const name of readdirSync(dom.paths.snapshots).sort()) {
    if (!SAFE_NAME.test(name) || name.endsWith('.part')) continue;
    const meta = readJson<SnapshotMeta>(join(dom.paths.snapshots, name, 'meta.json'));
    if (meta) out.push({ name, memory: false, createdAt: meta.createdAt, sizeBytes: meta.sizeBytes });
  }
  return out;
}

/**
 * A copy of the root filesystem. Of a running container it is taken with the container frozen
 * (cgroup freezer), so no process writes during the copy and the result is crash-consistent;
 * a paused container is already frozen and stays so. There is no memory state to save: a
 * memory snapshot is refused (it would need CRIU, broken on this kernel).
 */
export async function takeSnapshot(dom: ContainerDomain, name: string, memory: boolean): Promise<SnapshotInfo> {
  if (memory) {
    throw new DriverError(
      'unsupported',
      'containers have no memory snapshots here (CRIU does not work on this kernel)',
    );
  }
  const spec = dom.requireSpec();
  const existing = listSnapshots(dom).find((s) => s.name === name);
  if (existing) return existing; // a retried request must not fail on its own first success
  const dir = join(dom.paths.snapshots, name);
  rmSync(dir, { recursive: true, force: true }); // an interrupted earlier attempt
  const part = partDir(dom, name);
  rmSync(part, { recursive: true, force: true });
  await dom.openDisk(spec.diskGiB);
  mkdirSync(part, { recursive: true });
  const run = dom.readRun();
  const live = dom.livePid(run) !== undefined && run !== undefined;
  const weFroze = live && freezeState(run.cgroups) === 'thawed';
  try {
    if (weFroze) await freeze(run.cgroups);
    await copyTree(dom.paths.rootfs, join(part, 'rootfs'));
  } finally {
    if (weFroze) await thaw(run.cgroups);
  }
  const meta: SnapshotMeta = {
    name,
    createdAt: new Date().toISOString(),
    sizeBytes: await treeBytes(join(part, 'rootfs')),
    whileRunning: live,
  };
  writeJsonAtomic(join(part, 'meta.json'), meta);
  renameSync(part, dir);
  return { name, memory: false, createdAt: meta.createdAt, sizeBytes: meta.sizeBytes };
}

/**
 * Puts the snapshot's root filesystem back. A running container is killed first (its files are
 * about to be replaced under it) and started again on the restored files, so it ends as it was.
 */
export async function revertSnapshot(
  dom: ContainerDomain,
  name: string,
  startAgain: () => Promise<void>,
): Promise<DomainState> {
  const spec = dom.requireSpec();
  if (!listSnapshots(dom).some((s) => s.name === name)) {
    throw new DriverError('not_found', `VM ${dom.vmId} has no snapshot ${name}`);
  }
  const wasLive = dom.livePid() !== undefined;
  await dom.terminate({ graceful: false, timeoutMs: 0 });
  await dom.openDisk(spec.diskGiB);
  dom.recoverRootfs();
  await copyTree(join(dom.paths.snapshots, name, 'rootfs'), dom.paths.rootfsNew);
  renameSync(dom.paths.rootfs, dom.paths.rootfsOld);
  renameSync(dom.paths.rootfsNew, dom.paths.rootfs);
  rmSync(dom.paths.rootfsOld, { recursive: true, force: true });
  if (wasLive) await startAgain();
  return dom.status().state;
}

/** Deleting a snapshot that is not there succeeds (a retried delete); a VM that is not there does not. */
export function deleteSnapshot(dom: ContainerDomain, name: string): void {
  dom.requireSpec();
  rmSync(join(dom.paths.snapshots, name), { recursive: true, force: true });
  rmSync(partDir(dom, name), { recursive: true, force: true });
}

async function treeBytes(path: string): Promise<number> {
  const out = await runTool('du', ['-sb', '--', path], { timeoutMs: 60_000 });
  return Number(out.split(/\s/)[0]) || 0;
}
