import { createReadStream, createWriteStream, renameSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { DriverError, type CallContext, type MigrationEndpoint, type Progress } from '../hypervisor-driver.port.js';
import { errorMessage } from '../kit/driver-errors.js';
import { qemuDriverError } from './qmp-errors.js';
import { hostForUri, parseEndpoint, type ColdEndpoint, type LiveEndpoint } from './migration-endpoint.js';
import { imageInfo } from '../kit/qemu-img.js';
import type { QemuDomain } from './qemu-domain.js';
import { tracePhase } from '../kit/phase-trace.js';
import { cancelVolumeMirrors, mirrorVolumes } from './qemu-volumes.js';
import { deleteVolumeFiles } from '../kit/volume-files.js';
import { cancelMigration } from './migration-cancel.js';
import { assertPortableLayout } from './qemu-hotplug-layout.js';
import type { QmpClient } from './qmp.client.js';
import type { QmpBlockJobInfo, QmpMigrationInfo, QmpStatusInfo } from './qmp.types.js';
import { readJson, removeFile, storageId, tombstonePath, writeJsonAtomic } from '../kit/vm-files.js';

const MIRROR_JOB = 'vl-mirror';
const POLL_MS = 100;
/** Between two `MIGRATION` events, how often `query-migrate` is asked anyway (progress, deadline). */
const PROGRESS_MS = 250;
const SETTLE_MS = 10_000;

interface Tombstone {
  migrationId: string;
  at: string;
}

/** Source side of a migration; `live` must match the endpoint's mode. */
export async function migrateOut(
  dom: QemuDomain,
  raw: MigrationEndpoint,
  live: boolean,
  ctx: CallContext,
): Promise<void> {
  tracePhase(dom.vmId, 'driver migrate called');
  const endpoint = parseEndpoint(raw, dom.vmId);
  if (endpoint.mode !== (live ? 'live' : 'cold')) {
    throw new DriverError('failed', `endpoint is for a ${endpoint.mode} migration, asked for live=${live}`);
  }
  const tomb = tombstonePath(dom.host.storageDir, dom.host.hostKey, dom.vmId);
  if (readJson<Tombstone>(tomb)?.migrationId === endpoint.migrationId) return; // done before: a redelivery
  const shared = endpoint.storageId === storageId(dom.host.storageDir);
  if (endpoint.mode === 'cold') {
    await coldMigrate(dom, endpoint, shared, ctx);
  } else {
    await liveMigrate(dom, endpoint, shared, ctx);
  }
  writeJsonAtomic(tomb, { migrationId: endpoint.migrationId, at: new Date().toISOString() } satisfies Tombstone);
}

/** Bounds one migration by the host's timeout and the caller's signal. */
class Deadline {
  private readonly until: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.until = Date.now() + timeoutMs;
  }

  check(what: string): void {
    if (this.signal?.aborted) {
      const reason: unknown = this.signal.reason;
      const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
      throw new DriverError(timedOut ? 'timeout' : 'failed', `${what} aborted: ${errorMessage(reason)}`);
    }
    if (Date.now() > this.until) throw new DriverError('timeout', `${what} did not finish within ${this.timeoutMs} ms`);
  }

  /** An AbortSignal that fires on the caller's abort or at the deadline (for stream copies). */
  asSignal(): AbortSignal {
    const timer = AbortSignal.timeout(Math.max(1, this.until - Date.now()));
    return this.signal ? AbortSignal.any([this.signal, timer]) : timer;
  }
}

/**
 * Live: (NBD path) mirror disk0 into the target's export until READY, then `migrate` and poll
 * `query-migrate`, reporting progress. Any failure, abort or timeout runs `migrate_cancel` and
 * waits for QEMU's final status: `cancelled`/`failed` cancels the mirror, so the source keeps
 * running and the target can be aborted; `completed` (the abort came too late) is a success. On success
 * the mirror is cancelled (a READY mirror then ends without pivoting), the source QEMU (now in
 * `postmigrate`) quits, and its files go unless the storage is shared.
 */
async function liveMigrate(dom: QemuDomain, e: LiveEndpoint, shared: boolean, ctx: CallContext): Promise<void> {
  if (e.shared !== shared) {
    throw new DriverError(
      'conflict',
      `target says storage is ${e.shared ? '' : 'not '}shared but its storage id says otherwise; refusing to migrate`,
    );
  }
  if (dom.livePid() === undefined) throw new DriverError('conflict', `VM ${dom.vmId} is not running on this host`);
  // Read before the files go: the spec is one of them.
  const carried = shared ? [] : (dom.requireSpec().volumes ?? []);
  // One QMP connection for the check, the migration and the quit: the pool keeps it while this holds it.
  await dom
    .qmp(async (qmp) => {
      // Parameters sent with the status check (QMP answers in order: one round trip, not two);
      // harmless to a VM that then does not migrate, their answers count only when it does.
      const status = qmp.execute<QmpStatusInfo>('query-status', undefined, { timeoutMs: 5_000 });
      const parameters = Promise.all([
        qmp.execute('migrate-set-parameters', { 'max-bandwidth': dom.host.config.migrationBandwidth }),
        qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] }),
      ]);
      parameters.catch(() => undefined);
      const before = await status.catch((err: unknown) => {
        throw qemuDriverError(err, `migrate ${dom.vmId}`);
      });
      tracePhase(dom.vmId, 'source QMP connected, status answered');
      if (before.status !== 'postmigrate') {
        if (before.status !== 'running' && before.status !== 'paused') {
          throw new DriverError('conflict', `VM ${dom.vmId} cannot migrate while ${before.status}`);
        }
        if (!shared) assertPortableLayout(dom.paths.vmDir, dom.vmId);
        if (!shared) await checkDiskForMirror(dom, e);
        const deadline = new Deadline(dom.host.config.migrationTimeoutMs, ctx.signal);
        const volumes = dom.requireSpec().volumes ?? [];
        const nbd = `nbd:${hostForUri(e.host)}:${e.nbdPort}`;
        await dom.qmp(async (c) => {
          try {
            if (!shared) await mirrorDisk(c, e, ctx, deadline);
            // Attached volumes travel like the disk: one mirror each into the target's export of it.
            if (!shared) await mirrorVolumes(c, volumes, nbd, () => deadline.check('volume mirror'));
            // Both answered before the migration begins. QEMU sends MIGRATION status events only
            // with the capability; waitForMigration wakes on them.
            await parameters;
            await c.execute('migrate', { uri: `tcp:${hostForUri(e.host)}:${e.port}` });
            tracePhase(dom.vmId, 'source migrate sent');
            await waitForMigration(c, ctx, deadline);
            tracePhase(dom.vmId, 'source migration completed');
          } catch (err) {
            // An abort or a deadline may land after QEMU completed the migration: only QEMU knows.
            const outcome = await cancelMigration(c, SETTLE_MS);
            if (outcome !== 'completed') {
              if (!shared) await cancelVolumeMirrors(c, volumes, true);
              await rollback(c, !shared, before.status === 'running' && outcome !== undefined);
              throw outcome === undefined
                ? new DriverError(
                    'failed',
                    `migrate ${dom.vmId}: cancelled, but QEMU did not settle: ${errorMessage(err)}`,
                  )
                : withOutcome(qemuDriverError(err, `migrate ${dom.vmId}`), outcome);
            }
            // Too late to cancel: the guest runs on the target only. Finish as a success below, so
            // the caller records the migration (never a compensation that would abort the target).
          }
          if (!shared) await endMirror(c);
          if (!shared) await cancelVolumeMirrors(c, volumes, false);
        });
      }
      // The guest is the target's (this postmigrate QEMU let go of its disks and never runs it
      // again): the caller may finish the target while this one quits.
      ctx.onHandedOff?.();
      // postmigrate: the guest now runs on the target; this copy must never run again (its
      // `quit` goes over the same connection).
      await dom.terminate({ graceful: false, timeoutMs: 0 });
    })
    .catch((err: unknown) => {
      throw qemuDriverError(err, `migrate ${dom.vmId}`);
    });
  tracePhase(dom.vmId, 'source QEMU ended');
  if (shared) dom.removeRuntimeFiles();
  else dom.removeAllFiles();
  // The volumes were mirrored to the target like the disk; this copy is stale from now on, so
  // it goes like the disk does (a retried call finds nothing to remove).
  for (const v of carried) await deleteVolumeFiles(dom.host.storageDir, v);
}

async function checkDiskForMirror(dom: QemuDomain, e: LiveEndpoint): Promise<void> {
  const info = await imageInfo(dom.paths.disk, { forceShare: true });
  if (info.snapshots?.length) {
    // The mirror copies the current disk contents only; internal snapshots would be lost.
    throw new DriverError(
      'conflict',
      `VM ${dom.vmId} has ${info.snapshots.length} internal snapshot(s) that a storage migration would drop; ` +
        'delete them or migrate over shared storage',
    );
  }
  if (info['virtual-size'] !== e.diskBytes) {
    throw new DriverError(
      'conflict',
      `source disk is ${info['virtual-size']} bytes but the target prepared ${e.diskBytes} bytes`,
    );
  }
}

async function mirrorDisk(c: QmpClient, e: LiveEndpoint, ctx: CallContext, deadline: Deadline): Promise<void> {
  let jobError: string | undefined;
  const unsubscribe = c.onEvent((ev) => {
    if (ev.data?.device === MIRROR_JOB && typeof ev.data.error === 'string') jobError = ev.data.error;
  });
  try {
    await c.execute('drive-mirror', {
      'job-id': MIRROR_JOB,
      device: 'disk0',
      target: `nbd:${hostForUri(e.host)}:${e.nbdPort}:exportname=${e.nbdExport}`,
      format: 'raw',
      sync: 'full',
      mode: 'existing',
    });
    for (;;) {
      deadline.check('disk mirror');
      const job = (await c.execute<QmpBlockJobInfo[]>('query-block-jobs')).find((j) => j.device === MIRROR_JOB);
      if (!job)
        throw new DriverError('failed', `disk mirror ended before it was ready: ${jobError ?? 'no reason given'}`);
      report(ctx, {
        message: 'copying disk',
        transferredBytes: job.offset,
        remainingBytes: Math.max(0, job.len - job.offset),
        totalBytes: job.len,
        percent: job.len > 0 ? Math.floor((job.offset / job.len) * 100) : 0,
      });
      if (job.ready) return;
      await sleep(POLL_MS);
    }
  } finally {
    unsubscribe();
  }
}

/**
 * Until QEMU says the migration ended. QEMU sends a `MIGRATION` event at each change of status
 * (with the `events` capability, set before `migrate`), so the wait wakes on that event (a no-OS guest migrates in tens of ms, far less than a poll
 * step); `query-migrate` is still asked at each wake-up and every PROGRESS_MS meanwhile, for
 * the progress report and for the status itself (an event lost with a reconnect costs one step).
 */
async function waitForMigration(c: QmpClient, ctx: CallContext, deadline: Deadline): Promise<void> {
  const changed = new StatusChanges(c, ctx.signal);
  try {
    await follow(c, ctx, deadline, changed);
  } finally {
    changed.close();
  }
}

/**
 * Wakes a waiter on the next `MIGRATION` event, on the caller's abort, or after a timeout; an
 * event that lands between two waits is not lost.
 */
class StatusChanges {
  private pending = false;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly onAbort = (): void => this.signalChange();

  constructor(
    c: QmpClient,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.unsubscribe = c.onEvent((ev) => {
      if (ev.event === 'MIGRATION') this.signalChange();
    });
    signal?.addEventListener('abort', this.onAbort);
  }

  next(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
    });
  }

  close(): void {
    this.unsubscribe();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.wake?.();
  }

  private signalChange(): void {
    this.pending = true;
    this.wake?.();
  }
}

async function follow(c: QmpClient, ctx: CallContext, deadline: Deadline, changed: StatusChanges): Promise<void> {
  for (;;) {
    const info = await c.execute<QmpMigrationInfo>('query-migrate');
    const ram = info.ram;
    if (ram) {
      const done = info.status === 'completed';
      report(ctx, {
        message: `migrating memory (${info.status ?? 'unknown'})`,
        transferredBytes: ram.transferred,
        remainingBytes: ram.remaining,
        totalBytes: ram.total,
        percent: done
          ? 100
          : ram.total > 0
            ? Math.min(99, Math.floor(((ram.total - ram.remaining) / ram.total) * 100))
            : 0,
      });
    }
    // Checked after QEMU's answer too: an abort seen here may already be too late, which the
    // caller's cancelMigration then finds out from QEMU (completed stays completed).
    deadline.check('migration');
    switch (info.status) {
      case 'completed':
        return;
      case 'failed':
        throw new DriverError('failed', `migration failed: ${info['error-desc'] ?? 'no reason given by QEMU'}`);
      case 'cancelled':
        throw new DriverError('failed', 'migration was cancelled');
      default:
        await changed.next(PROGRESS_MS);
    }
  }
}

/**
 * Leaves the source as it was after `cancelMigration` settled on anything but `completed`: mirror
 * gone, guest running if it ran before. `resume` is false when QEMU's outcome is unknown, and a
 * source in `postmigrate` is never resumed: its guest lives on the target now.
 */
async function rollback(c: QmpClient, mirror: boolean, resume: boolean): Promise<void> {
  if (mirror) {
    await c.execute('block-job-cancel', { device: MIRROR_JOB, force: true }).catch(() => undefined);
    const until = Date.now() + SETTLE_MS;
    while (Date.now() < until) {
      const jobs = await c.execute<QmpBlockJobInfo[]>('query-block-jobs').catch(() => []);
      if (!jobs.some((j) => j.device === MIRROR_JOB)) break;
      await sleep(50);
    }
  }
  const status = await c.execute<QmpStatusInfo>('query-status').catch(() => undefined);
  if (resume && status && status.status !== 'running' && status.status !== 'postmigrate')
    await c.execute('cont').catch(() => undefined);
}

/** After completion a READY mirror is cancelled: it stops without switching the source to the NBD target. */
async function endMirror(c: QmpClient): Promise<void> {
  await c.execute('block-job-cancel', { device: MIRROR_JOB }).catch(() => undefined);
  const until = Date.now() + SETTLE_MS;
  while (Date.now() < until) {
    const jobs = await c.execute<QmpBlockJobInfo[]>('query-block-jobs');
    if (!jobs.some((j) => j.device === MIRROR_JOB)) return;
    await sleep(50);
  }
  await c.execute('block-job-cancel', { device: MIRROR_JOB, force: true }).catch(() => undefined);
}

/**
 * Cold: the VM is stopped, so its qcow2 (internal snapshots included) is copied as a file to the
 * path the target reserved, via a `.part` name so the target never sees half a disk. The target
 * path must be reachable from here (same machine or a mount). A disk overlaid on a base image
 * keeps pointing at that base by absolute path, which must exist on the target too.
 */
async function coldMigrate(dom: QemuDomain, e: ColdEndpoint, shared: boolean, ctx: CallContext): Promise<void> {
  if (dom.livePid() !== undefined) {
    throw new DriverError('conflict', `VM ${dom.vmId} is running; a cold migration needs it stopped`);
  }
  if (!dom.isDefined()) throw new DriverError('not_found', `VM ${dom.vmId} is not defined on this host`);
  if (shared) return; // the target sees these very files
  if (e.diskExisted) {
    throw new DriverError('conflict', `the target already has a disk for ${dom.vmId}; refusing to overwrite it`);
  }
  const deadline = new Deadline(dom.host.config.migrationTimeoutMs, ctx.signal);
  const part = `${e.diskPath}.part`;
  try {
    report(ctx, { message: 'copying disk', percent: 0 });
    await pipeline(createReadStream(dom.paths.disk), createWriteStream(part, { mode: 0o600 }), {
      signal: deadline.asSignal(),
    });
    renameSync(part, e.diskPath);
    report(ctx, { message: 'disk copied', percent: 100 });
  } catch (err) {
    removeFile(part);
    deadline.check('cold migration');
    throw qemuDriverError(err, `copy the disk of ${dom.vmId}`);
  }
  dom.removeAllFiles();
}

/** Names QEMU's final word on the migration, so the log says what QEMU decided, not only why we asked. */
function withOutcome(err: DriverError, outcome: string): DriverError {
  return outcome === 'none'
    ? err
    : new DriverError(err.code, `${err.message} (QEMU: migration ${outcome})`, { cause: err });
}

/** A throwing progress sink must not break (and roll back) a migration that is going well. */
function report(ctx: CallContext, progress: Progress): void {
  try {
    ctx.onProgress?.(progress);
  } catch {
    // ignored on purpose
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
