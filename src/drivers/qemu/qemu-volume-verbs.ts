import { DriverError, type DriverVolume, type VmSpec } from '../hypervisor-driver.port.js';
import type { QemuDomain } from './qemu-domain.js';
import { hotplugVolume, hotunplugVolume, launchVolumes } from './qemu-volumes.js';
import { imageInfo } from '../kit/qemu-img.js';
import { volumeBytes, volumeImagePath, volumeNodeName } from '../kit/volume-files.js';

/** Into the stored spec (next start) and, when the VM runs, hot-plugged over QMP. Run under the VM's lock. */
export async function attachQemuVolume(dom: QemuDomain, volume: DriverVolume, opts: { live: boolean }): Promise<void> {
  const stored = dom.requireSpec();
  launchVolumes(dom.host.storageDir, [volume]); // no file here: fail before touching the VM
  const running = dom.livePid() !== undefined;
  if (opts.live && !running) throw new DriverError('conflict', `VM ${dom.vmId} is not running`);
  // Appended (a redelivery keeps its place): its index is its PCI slot (qemu-volumes.ts).
  const volumes = stored.volumes ?? [];
  const known = volumes.findIndex((v) => v.volumeId === volume.volumeId);
  const next = known >= 0 ? volumes : [...volumes, volume];
  if (running) {
    await dom.qmp((c) => hotplugVolume(c, dom.host.storageDir, volume, known >= 0 ? known : volumes.length));
  }
  dom.writeSpec({ ...stored, volumes: next });
}

/** Hot-unplugged when the VM runs (device_del until DEVICE_DELETED, then blockdev-del), and out of the stored spec. */
export async function detachQemuVolume(dom: QemuDomain, volume: DriverVolume): Promise<void> {
  const stored = dom.requireSpec();
  if (dom.livePid() !== undefined) await dom.qmp((c) => hotunplugVolume(c, volume));
  dom.writeSpec({ ...stored, volumes: (stored.volumes ?? []).filter((v) => v.volumeId !== volume.volumeId) });
}

/** The spec with the control plane's volumes (the same object when nothing changes). */
export function withVolumes(spec: VmSpec, volumes: DriverVolume[] | undefined): VmSpec {
  const ids = (vs: DriverVolume[] | undefined) => (vs ?? []).map((v) => v.volumeId).join(',');
  if (ids(spec.volumes) === ids(volumes)) return spec;
  const { volumes: _old, ...rest } = spec;
  return volumes?.length ? { ...rest, volumes } : rest;
}

/**
 * Grows an attached volume of a running VM through its QEMU (`block_resize` on the volume's
 * node: the guest sees the new size at once). Already that size (a redelivery): nothing.
 * Returns false when the VM does not run here: the caller grows the file with qemu-img.
 */
export async function growLive(dom: QemuDomain, volume: DriverVolume): Promise<boolean> {
  if (dom.livePid() === undefined) return false;
  const path = volumeImagePath(dom.host.storageDir, volume);
  if ((await imageInfo(path, { forceShare: true }))['virtual-size'] >= volumeBytes(volume)) return true;
  await dom.qmp((c) => c.execute('block_resize', { 'node-name': volumeNodeName(volume), size: volumeBytes(volume) }));
  return true;
}
