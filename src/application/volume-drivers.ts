import type { VolumeSpec } from '../domain/vm/vm.types.js';

/**
 * Which drivers keep volumes, and which attach them to a running VM. Containers take a bind
 * mount at start only (runc cannot add a mount to a running container): attach or detach
 * while one runs is refused up front with a 409 naming that.
 */
const VOLUME_DRIVERS: Readonly<Record<string, { hotplug: boolean }>> = {
  qemu: { hotplug: true },
  libvirt: { hotplug: true },
  simulated: { hotplug: true },
  container: { hotplug: false },
};

export function keepsVolumes(driver: string): boolean {
  return VOLUME_DRIVERS[driver] !== undefined;
}

export function hotplugsVolumes(driver: string): boolean {
  return VOLUME_DRIVERS[driver]?.hotplug ?? false;
}

/** The volumes a VM is created with, and the host they pin it to (null: none given). */
export interface VmVolumeSpecs {
  hostId: string | null;
  volumes: VolumeSpec[];
}
