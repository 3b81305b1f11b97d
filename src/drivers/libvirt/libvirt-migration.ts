import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DriverError, type CallContext } from '../hypervisor-driver.port.js';
import type { LibvirtEndpoint } from './migration-endpoint.js';
import { pollMigrationProgress } from './migration-progress.js';
import { isNotFound } from './virsh.js';

/** One virsh call on the source host's connection (the driver's, with its deadline). */
export type VirshCall = (args: string[], ctx: CallContext, timeoutMs?: number) => Promise<string>;

/** Where a cold migration leaves the snapshot metadata for the target (inside the VM's dir there). */
const HANDOVER_DIR = 'incoming-snapshots';

/** What a live migration without shared storage adds for the volumes: their devices and the dir to rewrite. */
export interface LiveVolumes {
  fromDir: string;
  toDir: string;
  /** The running domain's targets (vdc…) whose file is one of this host's volumes. */
  targets: string[];
}

export interface LiveMigration {
  /** The source libvirtd's URI (for the progress poller). */
  uri: string;
  domain: string;
  /** This host's VM dir, where every file of the domain lives. */
  vmDir: string;
  /** The running disk file: the target receives it as its own disk path, whatever its name here. */
  disk: string;
  endpoint: LibvirtEndpoint;
  shared: boolean;
  timeoutMs: number;
  /** `--bandwidth` (MiB/s), when the host caps it. */
  bandwidthMiB?: number;
  /** Attached volumes to mirror beside the disk (no shared storage). */
  volumes?: LiveVolumes;
}

/**
 * `virsh migrate --live --p2p`: the source libvirtd talks to the target's (endpoint.uri) itself.
 * Without shared storage the disk goes along (`--copy-storage-all`, an NBD mirror set up by
 * libvirt) and the domain XML is rewritten to the target's VM dir.
 */
export async function migrateLive(virsh: VirshCall, m: LiveMigration, ctx: CallContext): Promise<void> {
  const args = liveMigrationArgs(m.domain, m.endpoint, m.bandwidthMiB);
  let xmlFile: string | undefined;
  if (m.shared) {
    // Both QEMUs open the same file: libvirt calls that unsafe unless the cache is off or the
    // filesystem is a cluster one it knows; the source stops writing before the target starts.
    args.push('--unsafe');
  } else {
    const xml = await virsh(['dumpxml', '--migratable', m.domain], ctx);
    const renamed = xml.split(`'${m.disk}'`).join(`'${m.endpoint.diskPath}'`);
    const moved = rewriteVmDir(renamed, m.vmDir, dirname(m.endpoint.diskPath));
    const rewritten = m.volumes ? rewriteVmDir(moved, m.volumes.fromDir, m.volumes.toDir) : moved;
    if (rewritten === xml) throw new DriverError('failed', `the domain XML of ${m.domain} names no file in ${m.vmDir}`);
    xmlFile = join(m.vmDir, `migrate-${createHash('sha256').update(m.endpoint.uri).digest('hex').slice(0, 8)}.xml`);
    writeFileSync(xmlFile, rewritten);
    const disks = ['vda', ...(m.volumes?.targets ?? [])].join(',');
    args.push('--copy-storage-all', '--migrate-disks', disks, '--xml', xmlFile, '--persistent-xml', xmlFile);
  }
  const stopPolling = ctx.onProgress ? pollMigrationProgress(m.uri, m.domain, ctx.onProgress, 250) : () => undefined;
  // An abort is not a kill of `virsh migrate`: libvirt's job is aborted (`domjobabort`, what
  // virsh's own Ctrl-C does) and the migrate call's answer says whether it came in time.
  const { signal, ...call } = ctx;
  if (signal?.aborted) throw new DriverError('failed', `migrate ${m.domain}: not started, the call was aborted`);
  let running = true;
  const abortJob = async () => {
    // Until the call returns: an abort that lands before libvirt opened its job finds none to abort.
    while (running) {
      await virsh(['domjobabort', m.domain], {}).catch(() => undefined);
      await new Promise((r) => setTimeout(r, ABORT_RETRY_MS));
    }
  };
  const onAbort = () => void abortJob();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await virsh(args, call, m.timeoutMs);
  } catch (err) {
    // A deadline (virsh killed) leaves libvirt's job running: cancel it so the source keeps the VM.
    await virsh(['domjobabort', m.domain], {}).catch(() => undefined);
    // Unless it came too late: then the guest runs on the target only, and reporting a failure
    // would get that only copy aborted by the compensation. libvirt, not the race, decides.
    if (await migratedAway(virsh, m.domain)) return;
    const job = await completedJob(virsh, m.domain);
    if (err instanceof DriverError && job && job !== 'None')
      throw new DriverError(err.code, `${err.message} (libvirt: job ${job})`);
    throw err;
  } finally {
    running = false;
    signal?.removeEventListener('abort', onAbort);
    stopPolling();
    if (xmlFile) rmSync(xmlFile, { force: true });
  }
}

const ABORT_RETRY_MS = 250;

/**
 * `domjobinfo --completed`'s job type (Failed, Cancelled…): libvirt's word on how the last job ended,
 * beside virsh migrate's own error. libvirt 9.0 keeps none for a migration aborted by domjobabort.
 */
async function completedJob(virsh: VirshCall, domain: string): Promise<string | undefined> {
  try {
    return /^Job type:\s+(\S+)/m.exec(await virsh(['domjobinfo', '--completed', domain], {}))?.[1];
  } catch {
    return undefined;
  }
}

const SETTLE_MS = 10_000;

/**
 * After `domjobabort`: waits for the domain's job to end, then says whether the migration had
 * completed (with --undefinesource a completed one leaves no domain here, or a `shut off
 * (migrated)` one). Anything else, an unreadable state included, is not a completion.
 */
export async function migratedAway(virsh: VirshCall, domain: string): Promise<boolean> {
  const until = Date.now() + SETTLE_MS;
  for (;;) {
    let info: string;
    try {
      info = await virsh(['domjobinfo', domain], {});
    } catch (err) {
      return isNotFound(err);
    }
    const busy = /^Job type:\s+(?!None)\S/m.test(info);
    if (!busy || Date.now() >= until) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    return /shut off \(migrated\)/.test(await virsh(['domstate', '--reason', domain], {}));
  } catch (err) {
    return isNotFound(err);
  }
}

export function liveMigrationArgs(domain: string, e: LibvirtEndpoint, bandwidthMiB?: number): string[] {
  const args = ['migrate', '--live', '--p2p', '--persistent', '--undefinesource', domain, e.uri];
  // libvirt applies it to the RAM stream and to the --copy-storage-all disk mirror alike.
  if (bandwidthMiB !== undefined) args.push('--bandwidth', String(bandwidthMiB));
  if (e.migrationHost) {
    // Without it libvirt sends the stream to the target's hostname, which need not resolve here.
    const host =
      e.migrationHost.includes(':') && !e.migrationHost.startsWith('[') ? `[${e.migrationHost}]` : e.migrationHost;
    args.push('--migrateuri', `tcp://${host}`);
  }
  return args;
}

/** Every `file='<fromDir>/…'` (disk, console log) becomes `file='<toDir>/…'`. */
export function rewriteVmDir(xml: string, fromDir: string, toDir: string): string {
  return xml.split(`'${fromDir}/`).join(`'${toDir}/`);
}

/**
 * Cold migration: the internal snapshots travel inside the qcow2, their libvirt metadata does
 * not. It is written next to the target's disk (paths rewritten to the target's VM dir), parents
 * first, for redefineSnapshots on the target.
 */
export async function handOverSnapshots(
  virsh: VirshCall,
  domain: string,
  vmDir: string,
  e: LibvirtEndpoint,
  ctx: CallContext,
): Promise<void> {
  const names = (await virsh(['snapshot-list', domain, '--topological', '--name'], ctx))
    .split('\n')
    .map((x) => x.trim())
    .filter(Boolean);
  const out = join(dirname(e.diskPath), HANDOVER_DIR);
  rmSync(out, { recursive: true, force: true });
  if (names.length === 0) return;
  mkdirSync(out, { recursive: true, mode: 0o700 });
  for (const [i, snap] of names.entries()) {
    const xml = await virsh(['snapshot-dumpxml', domain, snap], ctx);
    writeFileSync(join(out, `${String(i).padStart(4, '0')}.xml`), rewriteVmDir(xml, vmDir, dirname(e.diskPath)));
  }
}

/** On the target: `snapshot-create --redefine` each handed-over snapshot not already known (a retried finish). */
export async function redefineSnapshots(
  virsh: VirshCall,
  domain: string,
  vmDir: string,
  known: Set<string>,
  ctx: CallContext,
): Promise<void> {
  const dir = join(vmDir, HANDOVER_DIR);
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir).sort()) {
    const xml = readFileSync(join(dir, file), 'utf8');
    const snap = /<name>([^<]+)<\/name>/.exec(xml)?.[1];
    if (snap && known.has(snap)) continue;
    await virsh(['snapshot-create', domain, join(dir, file), '--redefine'], ctx);
  }
  rmSync(dir, { recursive: true, force: true });
}
