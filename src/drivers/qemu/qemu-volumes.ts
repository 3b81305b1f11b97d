import { existsSync } from 'node:fs';
import { DriverError, type DriverVolume } from '../hypervisor-driver.port.js';
import { volumeImagePath, volumeNodeName } from '../kit/volume-files.js';
import { QmpError, type QmpClient } from './qmp.client.js';

/** How long a guest gets to let go of an unplugged disk (DEVICE_DELETED) before the detach fails. */
const UNPLUG_TIMEOUT_MS = 30_000;

export interface LaunchVolume {
  node: string;
  device: string;
  path: string;
  /** The PCI slot: fixed, so a migration target (devices on its command line) matches a hot-plugged source. */
  addr: string;
}

/**
 * Volume i of the VM's list sits in PCI slot 0x10 + i on a start, a migration target and a
 * hot-plug alike (a hot-plug appends). Left to QEMU, a hot-plugged device takes the first free
 * slot while a target's command line may order them otherwise, and the guest would read another disk.
 */
const FIRST_SLOT = 0x10;
const MAX_VOLUMES = 16;
function slot(i: number): string {
  if (i >= MAX_VOLUMES) throw new DriverError('invalid', `at most ${MAX_VOLUMES} volumes per VM`);
  return `0x${(FIRST_SLOT + i).toString(16)}`;
}

function ids(volume: Pick<DriverVolume, 'volumeId'>): { node: string; device: string } {
  const node = volumeNodeName(volume);
  return { node, device: `${node}-dev` };
}

/** The `-blockdev`/`-device` pairs of a start (or a migration target), from the volume ids only. */
export function launchVolumes(storageDir: string, volumes: DriverVolume[] | undefined): LaunchVolume[] {
  return (volumes ?? []).map((v, i) => {
    const path = volumeImagePath(storageDir, v);
    if (!existsSync(path))
      throw new DriverError('not_found', `volume ${v.volumeId} has no file on this host (${path})`);
    return { ...ids(v), path, addr: slot(i) };
  });
}

/** QEMU answers a duplicate node or device id with a GenericError naming it: already done. */
function isDuplicate(err: unknown): boolean {
  return err instanceof QmpError && /duplicate|already exists|in use/i.test(err.desc);
}

/** Hot-plug: the qcow2 as a blockdev node, then a virtio-blk device on it. Idempotent (a redelivery finds both). */
export async function hotplugVolume(
  c: QmpClient,
  storageDir: string,
  volume: DriverVolume,
  index: number,
): Promise<void> {
  const v = { ...launchVolumes(storageDir, [volume])[0]!, addr: slot(index) };
  try {
    await c.execute('blockdev-add', {
      driver: 'qcow2',
      'node-name': v.node,
      file: { driver: 'file', filename: v.path },
    });
  } catch (err) {
    if (!isDuplicate(err)) throw err;
  }
  try {
    await c.execute('device_add', { driver: 'virtio-blk-pci', drive: v.node, id: v.device, addr: v.addr });
  } catch (err) {
    if (!isDuplicate(err)) throw err;
  }
}

async function deviceExists(c: QmpClient, device: string): Promise<boolean> {
  const children = await c.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' });
  return children.some((ch) => ch.name === device);
}

async function nodeExists(c: QmpClient, node: string): Promise<boolean> {
  const nodes = await c.execute<{ 'node-name': string }[]>('query-named-block-nodes');
  return nodes.some((n) => n['node-name'] === node);
}

/**
 * Hot-unplug: `device_del` asks the guest to let go; the device is gone only at DEVICE_DELETED
 * (waited for with a deadline, never a sleep); then the blockdev node is removed.
 */
export async function hotunplugVolume(c: QmpClient, volume: DriverVolume): Promise<void> {
  const { node, device } = ids(volume);
  if (await deviceExists(c, device)) {
    const deleted = c.waitForEvent('DEVICE_DELETED', (e) => e.data?.device === device, UNPLUG_TIMEOUT_MS);
    deleted.catch(() => undefined);
    try {
      await c.execute('device_del', { id: device });
    } catch (err) {
      // Gone between the check and the command: nothing left to wait for.
      if (!(await deviceExists(c, device))) return hotunplugNode(c, node);
      throw err;
    }
    try {
      await deleted;
    } catch (err) {
      throw new DriverError('timeout', `the guest did not release volume ${volume.volumeId} (no DEVICE_DELETED)`, {
        cause: err,
      });
    }
  }
  await hotunplugNode(c, node);
}

async function hotunplugNode(c: QmpClient, node: string): Promise<void> {
  if (await nodeExists(c, node)) await c.execute('blockdev-del', { 'node-name': node });
}

/** Target of a storage migration: each volume's node exported over the NBD server already started. */
export async function exportVolumes(c: QmpClient, volumes: DriverVolume[] | undefined): Promise<void> {
  for (const v of volumes ?? []) {
    const { node } = ids(v);
    await c.execute('nbd-server-add', { device: node, name: node, writable: true });
  }
}

const mirrorJob = (v: DriverVolume) => `mirror-${ids(v).node}`;
/** Generous: a mirror of a sparse volume on loopback is fast; the migration's own deadline is checked too. */
const MIRROR_READY_MS = 600_000;
const MIRROR_END_MS = 10_000;

/**
 * Source of a storage migration: one `drive-mirror` per volume into the target's export of the
 * same node name, each waited for by its BLOCK_JOB_READY event (waiters set before the command).
 */
export async function mirrorVolumes(
  c: QmpClient,
  volumes: DriverVolume[],
  nbd: string,
  check: () => void,
): Promise<void> {
  for (const v of volumes) {
    const job = mirrorJob(v);
    const ready = c.waitForEvent('BLOCK_JOB_READY', (e) => e.data?.device === job, MIRROR_READY_MS);
    const failed = c.waitForEvent(
      'BLOCK_JOB_COMPLETED',
      (e) => e.data?.device === job && typeof e.data.error === 'string',
      MIRROR_READY_MS,
    );
    ready.catch(() => undefined);
    failed.catch(() => undefined);
    await c.execute('drive-mirror', {
      'job-id': job,
      device: ids(v).node,
      target: `${nbd}:exportname=${ids(v).node}`,
      format: 'raw',
      sync: 'full',
      mode: 'existing',
    });
    const first = await Promise.race([ready.then(() => 'ready' as const), failed.then((e) => e)]);
    if (first !== 'ready') {
      throw new DriverError('failed', `mirror of volume ${v.volumeId} failed: ${String(first.data?.error)}`);
    }
    check();
  }
}

/** Ends the volume mirrors: a READY one stops without pivoting (the source keeps its file); `force` on a rollback. */
export async function cancelVolumeMirrors(c: QmpClient, volumes: DriverVolume[], force: boolean): Promise<void> {
  for (const v of volumes) {
    const job = mirrorJob(v);
    const jobs = await c.execute<{ device: string }[]>('query-block-jobs').catch(() => []);
    if (!jobs.some((j) => j.device === job)) continue;
    const ended = Promise.race([
      c.waitForEvent('BLOCK_JOB_COMPLETED', (e) => e.data?.device === job, MIRROR_END_MS),
      c.waitForEvent('BLOCK_JOB_CANCELLED', (e) => e.data?.device === job, MIRROR_END_MS),
    ]);
    ended.catch(() => undefined);
    await c.execute('block-job-cancel', { device: job, force }).catch(() => undefined);
    await ended.catch(() => c.execute('block-job-cancel', { device: job, force: true }).catch(() => undefined));
  }
}
