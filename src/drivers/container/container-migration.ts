import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { DriverError, type CallContext, type MigrationEndpoint } from '../hypervisor-driver.port.js';
import { readJson, storageId, writeJsonAtomic } from '../qemu/vm-files.js';
import type { ContainerDomain } from './container-domain.js';
import { copyTree } from './rootfs.js';

const NO_LIVE =
  'containers migrate cold only: live migration needs CRIU, which fails on this kernel (vDSO layout of kernels ≥ 6.13)';

/** What the target answers to prepareIncoming: a directory on this machine the source copies into. */
interface ContainerEndpoint {
  driver: 'container';
  mode: 'cold';
  vmId: string;
  /** The target's storage id: equal to the source's means one shared dir, which container hosts must not have. */
  storageId: string;
  dir: string;
}

interface IncomingMarker {
  vmId: string;
  preparedAt: string;
}

interface SentMarker {
  wasRunning: boolean;
}

/**
 * Target, step 1: a staging dir `<storage>/.incoming-<vmId>/` that the source fills. The VM's
 * own dir is only created by finishIncoming, so an aborted migration never leaves a half VM.
 */
export function prepareIncoming(dom: ContainerDomain, live: boolean): MigrationEndpoint {
  if (live) throw new DriverError('unsupported', NO_LIVE);
  if (dom.readSpec()) throw new DriverError('conflict', `VM ${dom.vmId} is already defined on this host`);
  const dir = dom.paths.incomingDir;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!readJson<IncomingMarker>(join(dir, 'incoming.json'))) {
    writeJsonAtomic(join(dir, 'incoming.json'), { vmId: dom.vmId, preparedAt: new Date().toISOString() });
  }
  const endpoint: ContainerEndpoint = {
    driver: 'container',
    mode: 'cold',
    vmId: dom.vmId,
    storageId: storageId(dom.host.storageDir),
    dir,
  };
  return { ...endpoint };
}

/**
 * Source: stop the container if it runs (the API only sends stopped ones; a direct caller gets
 * it restarted on the target), copy spec, root filesystem and snapshots into the target's
 * staging dir, then remove the VM here and leave a tombstone so a redelivered migrate succeeds.
 */
export async function migrateOut(
  dom: ContainerDomain,
  raw: MigrationEndpoint,
  live: boolean,
  stopTimeoutMs: number,
  ctx: CallContext,
): Promise<void> {
  if (live) throw new DriverError('unsupported', NO_LIVE);
  const e = parseEndpoint(raw, dom.vmId);
  if (!dom.readSpec() && existsSync(dom.paths.tombstone)) return; // sent already
  dom.requireSpec();
  if (e.storageId === storageId(dom.host.storageDir)) {
    throw new DriverError(
      'conflict',
      `source and target share the storage dir ${dom.host.storageDir}; container hosts need their own`,
    );
  }
  const marker = readJson<IncomingMarker>(join(e.dir, 'incoming.json'));
  if (marker?.vmId !== dom.vmId) {
    throw new DriverError('failed', `${e.dir} is not a prepared incoming migration of ${dom.vmId}`);
  }
  const wasRunning = dom.livePid() !== undefined;
  ctx.onProgress?.({ percent: 0, message: wasRunning ? 'stopping the container' : 'copying the root filesystem' });
  if (wasRunning) await dom.terminate({ graceful: true, timeoutMs: stopTimeoutMs });
  dom.recoverRootfs();
  const payload = join(e.dir, 'payload');
  const part = `${payload}.part`;
  rmSync(part, { recursive: true, force: true });
  rmSync(payload, { recursive: true, force: true });
  mkdirSync(part);
  await copyTree(dom.paths.spec, join(part, 'spec.json'), ctx.signal);
  await copyTree(dom.paths.rootfs, join(part, 'rootfs'), ctx.signal);
  if (existsSync(dom.paths.snapshots)) await copyTree(dom.paths.snapshots, join(part, 'snapshots'), ctx.signal);
  writeJsonAtomic(join(e.dir, 'sent.json'), { wasRunning } satisfies SentMarker);
  renameSync(part, payload);
  ctx.onProgress?.({ percent: 100, message: 'root filesystem copied' });
  writeJsonAtomic(dom.paths.tombstone, { vmId: dom.vmId, to: e.dir, at: new Date().toISOString() });
  rmSync(dom.paths.vmDir, { recursive: true, force: true });
}

/** Target, step 3: move the received VM into place; start it when it ran on the source. */
export async function finishIncoming(dom: ContainerDomain, live: boolean, start: () => Promise<void>): Promise<void> {
  if (live) throw new DriverError('unsupported', NO_LIVE);
  const dir = dom.paths.incomingDir;
  const payload = join(dir, 'payload');
  if (existsSync(payload)) {
    if (existsSync(dom.paths.vmDir)) throw new DriverError('conflict', `${dom.paths.vmDir} exists; not overwriting it`);
    const sent = readJson<SentMarker>(join(dir, 'sent.json')) ?? { wasRunning: false };
    renameSync(payload, dom.paths.vmDir);
    writeJsonAtomic(dom.paths.migratedIn, sent);
    rmSync(dir, { recursive: true, force: true });
  } else if (!dom.readSpec()) {
    throw new DriverError('not_found', `no incoming migration of ${dom.vmId} has arrived on this host`);
  }
  rmSync(dom.paths.tombstone, { force: true });
  const sent = readJson<SentMarker>(dom.paths.migratedIn);
  if (sent?.wasRunning && dom.livePid() === undefined) await start();
  rmSync(dom.paths.migratedIn, { force: true });
}

/** Target, after a failed migrate: drop the staging dir; the VM's own dir (if any) is not ours to touch. */
export function abortIncoming(dom: ContainerDomain): void {
  rmSync(dom.paths.incomingDir, { recursive: true, force: true });
}

function parseEndpoint(raw: MigrationEndpoint, vmId: string): ContainerEndpoint {
  const { driver, mode, dir, storageId: sid } = raw;
  if (driver !== 'container' || mode !== 'cold') {
    throw new DriverError('failed', `not a container cold-migration endpoint: ${JSON.stringify(raw)}`);
  }
  if (raw.vmId !== vmId) throw new DriverError('failed', `endpoint is for VM ${String(raw.vmId)}, not ${vmId}`);
  if (typeof dir !== 'string' || !isAbsolute(dir) || normalize(dir) !== dir || typeof sid !== 'string') {
    throw new DriverError('failed', `endpoint dir must be a plain absolute path: ${JSON.stringify(dir)}`);
  }
  return { driver, mode, vmId, storageId: sid, dir };
}
