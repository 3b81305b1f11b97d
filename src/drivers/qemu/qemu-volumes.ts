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
}

function ids(volume: Pick<DriverVolume, 'volumeId'>): { node: string; device: string } {
  const node = volumeNodeName(volume);
  return { node, device: `${node}-dev` };
}

/** The `-blockdev`/`-device` pairs of a start (or a migration target), from the volume ids only. */
export function launchVolumes(storageDir: string, volumes: DriverVolume[] | undefined): LaunchVolume[] {
  return (volumes ?? []).map((v) => {
    const path = volumeImagePath(storageDir, v);
    if (!existsSync(path))
      throw new DriverError('not_found', `volume ${v.volumeId} has no file on this host (${path})`);
    return { ...ids(v), path };
  });
}

/** QEMU answers a duplicate node or device id with a GenericError naming it: already done. */
function isDuplicate(err: unknown): boolean {
  return err instanceof QmpError && /duplicate|already exists|in use/i.test(err.desc);
}

/** Hot-plug: the qcow2 as a blockdev node, then a virtio-blk device on it. Idempotent (a redelivery finds both). */
export async function hotplugVolume(c: QmpClient, storageDir: string, volume: DriverVolume): Promise<void> {
  const [v] = launchVolumes(storageDir, [volume]);
  try {
    await c.execute('blockdev-add', {
      driver: 'qcow2',
      'node-name': v!.node,
      file: { driver: 'file', filename: v!.path },
    });
  } catch (err) {
    if (!isDuplicate(err)) throw err;
  }
  try {
    await c.execute('device_add', { driver: 'virtio-blk-pci', drive: v!.node, id: v!.device });
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

/** A grow of an attached volume's file while QEMU holds it: QEMU resizes through its own node. */
export async function blockResize(c: QmpClient, volume: DriverVolume, bytes: number): Promise<void> {
  await c.execute('block_resize', { 'node-name': ids(volume).node, size: bytes });
}
