import { DriverError, type CallContext, type MigrationEndpoint } from '../hypervisor-driver.port.js';
import { errorMessage } from '../kit/driver-errors.js';
import { qemuDriverError } from './qmp-errors.js';
import { hostForUri, parseEndpoint, type LiveEndpoint } from './migration-endpoint.js';
import type { QemuDomain } from './qemu-domain.js';
import { tracePhase } from '../kit/phase-trace.js';
import { cancelVolumeMirrors, mirrorVolumes } from './qemu-volumes.js';
import { deleteVolumeFiles } from '../kit/volume-files.js';
import { cancelMigration } from './migration-cancel.js';
import { assertPortableLayout } from './qemu-hotplug-layout.js';
import type { QmpStatusInfo } from './qmp.types.js';
import { readJson, storageId, tombstonePath, writeJsonAtomic } from '../kit/vm-files.js';
import { coldMigrate } from './cold-migration.js';
import { Deadline } from './migration-deadline.js';
import { waitForMigration } from './migration-wait.js';
import { checkDiskForMirror, endMirror, mirrorDisk, rollback, SETTLE_MS } from './outgoing-mirror.js';
import { setMigrationParameters } from './outgoing-hold.js';
import type { QmpClient } from './qmp.client.js';

/**
 * Source side of a migration: the live path here; the disk mirror (no shared storage) in
 * outgoing-mirror.ts, the wait for QEMU's verdict in migration-wait.ts, cold in cold-migration.ts.
 */

interface Tombstone {
  migrationId: string;
  at: string;
}

/**
 * The VM's status as the source was made ready with it, when still true on this connection (and
 * the migration parameters set): see OutgoingHolds.take.
 */
export type KnownStatus = (c: QmpClient) => QmpStatusInfo | undefined;

/** Source side of a migration; `live` must match the endpoint's mode. */
export async function migrateOut(
  dom: QemuDomain,
  raw: MigrationEndpoint,
  live: boolean,
  ctx: CallContext,
  known: KnownStatus = () => undefined,
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
    await liveMigrate(dom, endpoint, shared, ctx, known);
  }
  writeJsonAtomic(tomb, { migrationId: endpoint.migrationId, at: new Date().toISOString() } satisfies Tombstone);
}

/**
 * Live: (NBD path) mirror disk0 into the target's export until READY, then `migrate` and poll
 * `query-migrate`, reporting progress. Any failure, abort or timeout runs `migrate_cancel` and
 * waits for QEMU's final status: `cancelled`/`failed` cancels the mirror, so the source keeps
 * running and the target can be aborted; `completed` (the abort came too late) is a success. On success
 * the mirror is cancelled (a READY mirror then ends without pivoting), the source QEMU (now in
 * `postmigrate`) quits, and its files go unless the storage is shared.
 */
async function liveMigrate(
  dom: QemuDomain,
  e: LiveEndpoint,
  shared: boolean,
  ctx: CallContext,
  known: KnownStatus,
): Promise<void> {
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
      // Made ready ahead, with nothing said since: no round trip before `migrate`. Otherwise the
      // parameters go with the status check (QMP answers in order: one round trip, not two);
      // harmless to a VM that then does not migrate, their answers count only when it does.
      const ready = known(qmp);
      const status = ready
        ? Promise.resolve(ready)
        : qmp.execute<QmpStatusInfo>('query-status', undefined, { timeoutMs: 5_000 });
      const parameters = ready ? Promise.resolve() : setMigrationParameters(qmp, dom);
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

/** Names QEMU's final word on the migration, so the log says what QEMU decided, not only why we asked. */
function withOutcome(err: DriverError, outcome: string): DriverError {
  return outcome === 'none'
    ? err
    : new DriverError(err.code, `${err.message} (QEMU: migration ${outcome})`, { cause: err });
}
