import { DriverError, type CallContext } from '../hypervisor-driver.port.js';
import { hostForUri, type LiveEndpoint } from './migration-endpoint.js';
import { imageInfo } from '../kit/qemu-img.js';
import type { QemuDomain } from './qemu-domain.js';
import type { QmpClient } from './qmp.client.js';
import type { QmpBlockJobInfo, QmpStatusInfo } from './qmp.types.js';
import { report, sleep, type Deadline } from './migration-deadline.js';

/*
 * The source's disk mirror into the target's NBD export (a live migration without shared
 * storage): checked, started, followed until READY, ended or rolled back.
 */

const MIRROR_JOB = 'vl-mirror';
const POLL_MS = 100;
/** How long QEMU gets to settle a cancelled migration or mirror before we stop asking. */
export const SETTLE_MS = 10_000;

export async function checkDiskForMirror(dom: QemuDomain, e: LiveEndpoint): Promise<void> {
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

export async function mirrorDisk(c: QmpClient, e: LiveEndpoint, ctx: CallContext, deadline: Deadline): Promise<void> {
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
 * Leaves the source as it was after `cancelMigration` settled on anything but `completed`: mirror
 * gone, guest running if it ran before. `resume` is false when QEMU's outcome is unknown, and a
 * source in `postmigrate` is never resumed: its guest lives on the target now.
 */
export async function rollback(c: QmpClient, mirror: boolean, resume: boolean): Promise<void> {
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
export async function endMirror(c: QmpClient): Promise<void> {
  await c.execute('block-job-cancel', { device: MIRROR_JOB }).catch(() => undefined);
  const until = Date.now() + SETTLE_MS;
  while (Date.now() < until) {
    const jobs = await c.execute<QmpBlockJobInfo[]>('query-block-jobs');
    if (!jobs.some((j) => j.device === MIRROR_JOB)) return;
    await sleep(50);
  }
  await c.execute('block-job-cancel', { device: MIRROR_JOB, force: true }).catch(() => undefined);
}
