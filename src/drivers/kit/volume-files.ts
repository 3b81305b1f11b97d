import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DriverVolume } from '../hypervisor-driver.port.js';
import { createQcow2, growImage, imageInfo } from './qemu-img.js';
import { assertSafeName } from './safe-name.js';

/**
 * A volume's file on a host, derived from its id alone (never from a tenant's name):
 * `<storageDir>/volumes/<volumeId>.qcow2`, or the directory `<storageDir>/volumes/<volumeId>/`
 * for containers (a bind mount).
 */
export function volumesDir(storageDir: string): string {
  return join(resolve(storageDir), 'volumes');
}

export function volumeImagePath(storageDir: string, volume: Pick<DriverVolume, 'volumeId'>): string {
  return join(volumesDir(storageDir), `${assertSafeName('volume id', volume.volumeId)}.qcow2`);
}

export function volumeDirPath(storageDir: string, volume: Pick<DriverVolume, 'volumeId'>): string {
  return join(volumesDir(storageDir), assertSafeName('volume id', volume.volumeId));
}

/** QEMU node and device ids: derived from the volume id (a uuid's first 12 hex), never a tenant's name. */
export function volumeNodeName(volume: Pick<DriverVolume, 'volumeId'>): string {
  return `vol-${assertSafeName('volume id', volume.volumeId)
    .replace(/[^A-Za-z0-9]/g, '')
    .slice(0, 24)}`;
}

export function volumeBytes(volume: Pick<DriverVolume, 'sizeGiB'>): number {
  if (!Number.isInteger(volume.sizeGiB) || volume.sizeGiB < 1 || volume.sizeGiB > 65536) {
    throw new Error(`invalid volume size ${volume.sizeGiB} GiB`);
  }
  return volume.sizeGiB * 1024 ** 3;
}

/** The qcow2 at its size; an existing file is kept (a redelivered job, idempotent). */
export async function createVolumeImage(storageDir: string, volume: DriverVolume): Promise<string> {
  const path = volumeImagePath(storageDir, volume);
  await mkdir(volumesDir(storageDir), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) await createQcow2(path, volumeBytes(volume));
  return path;
}

/** Grows the qcow2 to the volume's size; already that size (a redelivery) is a success. */
export async function growVolumeImage(storageDir: string, volume: DriverVolume): Promise<void> {
  const path = volumeImagePath(storageDir, volume);
  const info = await imageInfo(path, { forceShare: true });
  if (info['virtual-size'] >= volumeBytes(volume)) return;
  await growImage(path, volumeBytes(volume));
}

export async function deleteVolumeFiles(storageDir: string, volume: DriverVolume): Promise<void> {
  await rm(volumeImagePath(storageDir, volume), { force: true });
  await rm(volumeDirPath(storageDir, volume), { recursive: true, force: true });
}

/** A container's volume: a directory (its size is not enforced; recorded for placement only). */
export async function createVolumeDir(storageDir: string, volume: DriverVolume): Promise<string> {
  const path = volumeDirPath(storageDir, volume);
  await mkdir(path, { recursive: true, mode: 0o755 });
  return path;
}
