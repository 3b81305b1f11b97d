import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { DriverError, type CallContext, type MigrationEndpoint } from '../hypervisor-driver.port.js';
import { readJson, storageId, writeJsonAtomic } from '../kit/vm-files.js';
import type { ContainerDomain } from './container-domain.js';
import { copyTree } from './rootfs.js';
import type { TarReceivers } from './tar-receiver.js';
import { sendTar } from './tar-sender.js';

const NO_LIVE =
  'containers migrate cold only: live migration needs CRIU, which fails on this kernel (vDSO layout of kernels ≥ 6.13)';

/**
 * What the target answers to prepareIncoming: its staging dir, which the source copies into
 * (`dir`: hosts on one machine), or a TCP port taking a tar stream with a one-time token (`tcp`).
 */
interface ContainerEndpoint {
  driver: 'container';
  mode: 'cold';
  transport: 'dir' | 'tcp';
  vmId: string;
  /** The target's storage id: equal to the source's means one shared dir, which container hosts must not have. */
  storageId: string;
  dir: string;
  host?: string;
  port?: number;
  token?: string;
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
export async function prepareIncoming(
  dom: ContainerDomain,
  live: boolean,
  receivers: TarReceivers,
): Promise<MigrationEndpoint> {
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
    transport: dom.host.config.migration,
    vmId: dom.vmId,
    storageId: storageId(dom.host.storageDir),
    dir,
  };
  if (endpoint.transport === 'tcp') {
    const l = await receivers.listen(dom.vmId, dir, dom.host.config.migrationHost);
    Object.assign(endpoint, { host: l.host, port: l.port, token: l.token });
  }
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
  if (e.transport === 'dir') {
    const marker = readJson<IncomingMarker>(join(e.dir, 'incoming.json'));
    if (marker?.vmId !== dom.vmId) {
      throw new DriverError('failed', `${e.dir} is not a prepared incoming migration of ${dom.vmId}`);
    }
  }
  const wasRunning = dom.livePid() !== undefined;
  ctx.onProgress?.({ percent: 0, message: wasRunning ? 'stopping the container' : 'copying the root filesystem' });
  if (wasRunning) await dom.terminate({ graceful: true, timeoutMs: stopTimeoutMs });
  await dom.openDisk(dom.requireSpec().diskGiB);
  dom.recoverRootfs();
  if (e.transport === 'tcp') {
    const target = { host: e.host ?? '', port: e.port ?? 0, token: e.token ?? '' };
    await sendTar(target, dom.paths, wasRunning, dom.host.config.migrationTimeoutMs, ctx.signal);
  } else {
    await copyInto(dom, e.dir, wasRunning, ctx);
  }
  ctx.onProgress?.({ percent: 100, message: 'root filesystem copied' });
  writeJsonAtomic(dom.paths.tombstone, { vmId: dom.vmId, to: e.dir, at: new Date().toISOString() });
  await dom.closeDisk();
  rmSync(dom.paths.vmDir, { recursive: true, force: true });
}

/** The `dir` transport: the target's staging dir is on this machine (or a shared filesystem). */
async function copyInto(dom: ContainerDomain, dir: string, wasRunning: boolean, ctx: CallContext): Promise<void> {
  const payload = join(dir, 'payload');
  const part = `${payload}.part`;
  rmSync(part, { recursive: true, force: true });
  rmSync(payload, { recursive: true, force: true });
  mkdirSync(part);
  await copyTree(dom.paths.spec, join(part, 'spec.json'), ctx.signal);
  await copyTree(dom.paths.rootfs, join(part, 'rootfs'), ctx.signal);
  if (existsSync(dom.paths.snapshots)) await copyTree(dom.paths.snapshots, join(part, 'snapshots'), ctx.signal);
  writeJsonAtomic(join(dir, 'sent.json'), { wasRunning } satisfies SentMarker);
  renameSync(part, payload);
}

/** Target, step 3: move the received VM into place; start it when it ran on the source. */
export async function finishIncoming(
  dom: ContainerDomain,
  live: boolean,
  receivers: TarReceivers,
  start: () => Promise<void>,
): Promise<void> {
  if (live) throw new DriverError('unsupported', NO_LIVE);
  receivers.close(dom.vmId);
  const dir = dom.paths.incomingDir;
  const payload = join(dir, 'payload');
  if (existsSync(payload)) {
    if (existsSync(dom.paths.vmDir)) throw new DriverError('conflict', `${dom.paths.vmDir} exists; not overwriting it`);
    const sent = readJson<SentMarker>(join(dir, 'sent.json')) ?? { wasRunning: false };
    renameSync(payload, dom.paths.vmDir);
    writeJsonAtomic(dom.paths.migratedIn, sent);
    rmSync(dir, { recursive: true, force: true });
    // The root filesystem arrived as plain files: into a disk image of this host, sized by the spec.
    await dom.openDisk(dom.requireSpec().diskGiB);
  } else if (!dom.readSpec()) {
    throw new DriverError('not_found', `no incoming migration of ${dom.vmId} has arrived on this host`);
  }
  rmSync(dom.paths.tombstone, { force: true });
  const sent = readJson<SentMarker>(dom.paths.migratedIn);
  if (sent?.wasRunning && dom.livePid() === undefined) await start();
  rmSync(dom.paths.migratedIn, { force: true });
}

/** Target, after a failed migrate: drop the staging dir; the VM's own dir (if any) is not ours to touch. */
export function abortIncoming(dom: ContainerDomain, receivers: TarReceivers): void {
  receivers.close(dom.vmId);
  rmSync(dom.paths.incomingDir, { recursive: true, force: true });
}

function parseEndpoint(raw: MigrationEndpoint, vmId: string): ContainerEndpoint {
  const { driver, mode, dir, storageId: sid, host, port, token } = raw;
  const transport = raw.transport ?? 'dir';
  if (driver !== 'container' || mode !== 'cold' || (transport !== 'dir' && transport !== 'tcp')) {
    throw new DriverError(
      'failed',
      `not a container cold-migration endpoint: ${JSON.stringify({ driver, mode, transport })}`,
    );
  }
  if (raw.vmId !== vmId) throw new DriverError('failed', `endpoint is for VM ${String(raw.vmId)}, not ${vmId}`);
  if (typeof dir !== 'string' || !isAbsolute(dir) || normalize(dir) !== dir || typeof sid !== 'string') {
    throw new DriverError('failed', `endpoint dir must be a plain absolute path: ${JSON.stringify(dir)}`);
  }
  if (transport === 'dir') return { driver, mode, transport, vmId, storageId: sid, dir };
  if (typeof host !== 'string' || typeof port !== 'number' || typeof token !== 'string') {
    throw new DriverError('failed', 'a tcp endpoint needs host, port and token');
  }
  return { driver, mode, transport, vmId, storageId: sid, dir, host, port, token };
}
