import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { DriverError, type MigrationEndpoint, type VmSpec } from '../hypervisor-driver.port.js';
import { errorMessage } from '../kit/driver-errors.js';
import { qemuDriverError } from './qmp-errors.js';
import { hostForUri, toWire, type QemuEndpoint } from './migration-endpoint.js';
import { createQcow2, isImageInUse } from '../kit/qemu-img.js';
import { createVolumeImage } from '../kit/volume-files.js';
import { exportVolumes } from './qemu-volumes.js';
import type { LaunchHooks, QemuDomain } from './qemu-domain.js';
import { tracePhase } from '../kit/phase-trace.js';
import { diskBytesOf } from '../kit/safe-name.js';
import type { QmpClient } from './qmp.client.js';
import { QmpWake } from './qmp-wake.js';
import { resumedLast } from './qemu-status.js';
import type { QmpMigrationInfo, QmpStatusInfo } from './qmp.types.js';
import {
  ensureDir,
  readJson,
  removeFile,
  storageId,
  tombstonePath,
  writeJsonAtomic,
  type IncomingInfo,
  type RunInfo,
} from '../kit/vm-files.js';

const NBD_EXPORT = 'disk0';
const COMPLETE_WAIT_MS = 10_000;

/**
 * Target side, step 1. Live: start QEMU with `-incoming defer` and listen on a port QEMU picks.
 * If the disk file is already here and a running QEMU holds it, the storage is shared with the
 * source and the target simply opens it. Otherwise the target gets a fresh disk of the same
 * size, is started with `-S` (an NBD export and an active guest cannot both hold the write
 * permission: notes pitfall #2) and exports that disk over NBD for the source to mirror into.
 * Cold: only reserve the VM dir; the source copies the stopped disk in.
 */
export async function prepareIncoming(dom: QemuDomain, spec: VmSpec, live: boolean): Promise<MigrationEndpoint> {
  tracePhase(dom.vmId, 'driver prepareIncoming called');
  const p = dom.paths;
  const previous = readJson<IncomingInfo>(p.incoming);
  const run = dom.readRun();
  const pid = dom.livePid();
  if (previous?.endpoint && previous.live === live && (!live || (pid !== undefined && run?.mode === 'incoming'))) {
    return previous.endpoint; // a retried prepare answers what the first one did
  }
  // Defined here and ours: a prepare redelivered after the migration finished (or a wrong target).
  // Going on would mark a working VM as incoming, and start would refuse it from then on.
  if (!previous && dom.isDefined() && !dom.ownerElsewhere()) {
    throw new DriverError('conflict', `VM ${dom.vmId} is already defined on this host`);
  }
  if (pid !== undefined) {
    if (run?.mode !== 'incoming') throw new DriverError('conflict', `VM ${dom.vmId} already runs on this host`);
    await dom.kill(); // a prepare that died half-way: start over
  }
  const createdVmDir = previous?.createdVmDir ?? !existsSync(p.vmDir);
  ensureDir(p.vmDir);
  ensureDir(p.runDir);
  const myStorage = storageId(dom.host.storageDir);
  const migrationId = randomUUID();

  if (!live) {
    const diskExisted = previous ? !previous.createdDisk : existsSync(p.disk);
    const endpoint: QemuEndpoint = {
      driver: 'qemu',
      mode: 'cold',
      migrationId,
      storageId: myStorage,
      diskPath: p.disk,
      diskExisted,
    };
    const info: IncomingInfo = {
      live,
      shared: false,
      createdDisk: !diskExisted,
      createdVmDir,
      endpoint: toWire(endpoint),
    };
    writeJsonAtomic(p.incoming, info);
    return toWire(endpoint);
  }

  const ownDiskFromBefore = previous?.createdDisk ?? false;
  // A disk already here that a running QEMU holds is the source's own (shared storage): the
  // target opens it. A disk nobody holds is refused (never overwritten). The check (the source
  // QEMU's lock in /proc/locks, else qemu-img, tens of ms) runs while the target QEMU starts,
  // which opens an incoming disk inactive (no lock taken) and is killed again if the answer is no.
  const shared = existsSync(p.disk) && !ownDiskFromBefore;
  let held: Promise<{ value: boolean } | { err: unknown }> | undefined;
  // Started once QEMU is spawned: forking qemu-img first would hold the QEMU spawn back.
  const checkHeld = () => (held ??= shared ? settle(isImageInUse(p.disk)) : undefined);
  const diskBytes = diskBytesOf(spec);
  // Recorded before anything is created, so an abort after a crash knows what to remove.
  writeJsonAtomic(p.incoming, { live, shared, createdDisk: !shared, createdVmDir } satisfies IncomingInfo);
  if (!shared) {
    removeFile(p.disk);
    await createQcow2(p.disk, diskBytes);
  }
  // Attached volumes: the same devices as on the source; without shared storage an empty file
  // of the same size each, which the source mirrors into over NBD like the disk.
  if (!shared) for (const v of spec.volumes ?? []) await createVolumeImage(dom.host.storageDir, v);
  const host = dom.host.config.migrationHost;
  let refused = false;
  try {
    // Set up on the connection that found QMP answering (one connect instead of two).
    const hooks: LaunchHooks<{ port: number; nbdPort: number }> = { spawned: checkHeld };
    hooks.ready = async (c) => {
      // Both sent at once: QMP runs them in order, so the query sees the listening socket (one
      // round trip instead of two); its answer counts only once migrate-incoming succeeded.
      const started = c.execute('migrate-incoming', { uri: `tcp:${hostForUri(host)}:0` });
      const queried = c.execute<QmpMigrationInfo>('query-migrate');
      queried.catch(() => undefined);
      await started;
      const info = await queried;
      const port = Number(info['socket-address']?.[0]?.port);
      if (!Number.isInteger(port) || port <= 0) throw new Error('QEMU did not report its incoming migration port');
      let nbdPort = 0;
      if (!shared) {
        nbdPort = await startNbdServer(c, host);
        await c.execute('nbd-server-add', { device: 'disk0', name: NBD_EXPORT, writable: true });
        await exportVolumes(c, spec.volumes);
      }
      // Open until finishIncoming (or the abort) on this host: it then asks nothing to connect, and
      // the RESUME QEMU sends once the guest runs here arrives on it.
      dom.holdQmp();
      return { port, nbdPort };
    };
    const listening = await dom.launch(spec, { incoming: true, startPaused: !shared }, hooks);
    if (!listening) throw new Error('QEMU did not answer the incoming migration setup');
    const { port, nbdPort } = listening;
    if (held) {
      const answer = await held;
      if ('err' in answer) throw answer.err;
      if (!answer.value) {
        refused = true;
        throw new DriverError(
          'conflict',
          `a disk for ${dom.vmId} already exists on this host and no QEMU holds it; refusing to overwrite it`,
        );
      }
    }
    tracePhase(dom.vmId, 'target listening');
    const endpoint: QemuEndpoint = {
      driver: 'qemu',
      mode: 'live',
      migrationId,
      host,
      port,
      shared,
      storageId: myStorage,
      nbdPort,
      nbdExport: NBD_EXPORT,
      diskBytes,
    };
    writeJsonAtomic(p.incoming, { live, shared, createdDisk: !shared, createdVmDir, endpoint: toWire(endpoint) });
    return toWire(endpoint);
  } catch (err) {
    await dom.kill().catch(() => undefined);
    if (held) await held; // no qemu-img left running on the disk after the answer
    if (refused && !previous) {
      // As if never prepared: this host created nothing, and a start must not find an incoming record.
      dom.removeRuntimeFiles();
      removeFile(p.incoming);
    }
    throw qemuDriverError(err, `prepare incoming migration of ${dom.vmId}`);
  }
}

/** A promise that never rejects (its error is kept), so it can wait while other work runs. */
function settle<T>(p: Promise<T>): Promise<{ value: T } | { err: unknown }> {
  return p.then(
    (value) => ({ value }),
    (err: unknown) => ({ err }),
  );
}

/** The NBD server cannot report a port it picked itself, so a free one is found first; a lost race is retried. */
async function startNbdServer(c: QmpClient, host: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(host);
    try {
      await c.execute('nbd-server-start', { addr: { type: 'inet', data: { host, port: String(port) } } });
      return port;
    } catch (err) {
      if (attempt >= 5 || !/in use/i.test(errorMessage(err))) throw err;
    }
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Target side, after the source reported success. The target can trail the source by a few
 * milliseconds, so `inmigrate` is waited out briefly. NBD path: stop the export first (it holds
 * the write permission), then `cont`.
 */
export async function finishIncoming(dom: QemuDomain, spec: VmSpec, live: boolean): Promise<void> {
  const p = dom.paths;
  const incoming = readJson<IncomingInfo>(p.incoming);
  if (!live) {
    if (!existsSync(p.disk)) throw new DriverError('failed', `the disk of ${dom.vmId} has not arrived on this host`);
    dom.writeSpec(spec);
    dom.removeRuntimeFiles();
    removeFile(tombstonePath(dom.host.storageDir, dom.host.hostKey, dom.vmId));
    return;
  }
  const pid = dom.livePid();
  const run = dom.readRun();
  if (!incoming) {
    if (pid !== undefined && run?.mode === 'normal') {
      dom.releaseQmp(); // finished already (a redelivery)
      return;
    }
    throw new DriverError('conflict', `no incoming migration of ${dom.vmId} was prepared on this host`);
  }
  if (pid === undefined || !run) {
    throw new DriverError('failed', `the target QEMU of ${dom.vmId} is gone: ${dom.logTail() || 'no output'}`);
  }
  try {
    await dom.qmp(async (c) => {
      const deadline = Date.now() + COMPLETE_WAIT_MS;
      // The source saw `completed` first; the target follows within ms. It says so itself (RESUME
      // when the guest runs here, STOP, MIGRATION): woken by that, with the 10 ms step left for a
      // target that announces nothing. On the connection held since prepareIncoming, QEMU's RESUME
      // (a target runs only once the incoming migration completed) with no stop after it already
      // says the guest runs here: no query-status then.
      const changed = new QmpWake(c, ['RESUME', 'STOP', 'MIGRATION']);
      const ask = (): Promise<QmpStatusInfo> =>
        resumedLast(c.recentEvents) ? Promise.resolve(RUNNING) : c.execute<QmpStatusInfo>('query-status');
      let status: QmpStatusInfo;
      try {
        status = await ask();
        while (status.status === 'inmigrate' && Date.now() < deadline) {
          await changed.next(10);
          status = await ask();
        }
      } finally {
        changed.close();
      }
      if (status.status === 'inmigrate') {
        throw new DriverError('conflict', `the incoming migration of ${dom.vmId} has not completed`);
      }
      if (!incoming.shared) {
        await c.execute('nbd-server-stop').catch((err: unknown) => {
          if (!/not running/i.test(errorMessage(err))) throw err;
        });
      }
      if (status.status === 'paused' || status.status === 'prelaunch') await c.execute('cont');
      tracePhase(dom.vmId, `target ${status.status === 'running' ? 'was running' : 'resumed'}`);
    });
  } catch (err) {
    throw qemuDriverError(err, `finish incoming migration of ${dom.vmId}`);
  }
  // A VM like any other from here: its socket is free again between operations.
  dom.releaseQmp();
  dom.writeSpec(spec);
  writeJsonAtomic(p.runInfo, { ...run, mode: 'normal' } satisfies RunInfo);
  removeFile(p.incoming);
  removeFile(p.stoppedMarker);
  removeFile(tombstonePath(dom.host.storageDir, dom.host.hostKey, dom.vmId));
}

const RUNNING: QmpStatusInfo = { status: 'running', running: true };

/** Target side, after a failed migrate: the target QEMU and whatever prepareIncoming created go; a shared disk stays. */
export async function abortIncoming(dom: QemuDomain): Promise<void> {
  const p = dom.paths;
  const incoming = readJson<IncomingInfo>(p.incoming);
  const run = dom.readRun();
  if (!incoming) {
    // Nothing prepared, already aborted, or already finished (then the VM runs here: leave it).
    if (run?.mode === 'incoming' && dom.livePid() !== undefined) {
      await dom.kill();
      dom.removeRuntimeFiles();
    }
    return;
  }
  if (dom.livePid() !== undefined) await dom.kill();
  dom.removeRuntimeFiles();
  if (incoming.createdDisk) {
    removeFile(p.disk);
    removeFile(`${p.disk}.part`);
  }
  if (incoming.createdVmDir) rmSync(p.vmDir, { recursive: true, force: true });
}
