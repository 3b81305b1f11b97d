import type { VolumeSpec } from '../domain/vm/vm.types.js';

/**
 * Which drivers keep volumes, and which attach them to a running VM. Containers take a bind
 * mount at start only (runc cannot add a mount to a running container): attach or detach
 * while one runs is refused up front with a 409 naming that.
 */
const VOLUME_DRIVERS: Readonly<Record<string, { hotplug: boolean; migrates: boolean }>> = {
  qemu: { hotplug: true, migrates: true },
  libvirt: { hotplug: true, migrates: true },
  simulated: { hotplug: true, migrates: true },
  // A container's volumes are directories its migration (a tar of the root filesystem) does not carry.
  container: { hotplug: false, migrates: false },
};

export function keepsVolumes(driver: string): boolean {
  return VOLUME_DRIVERS[driver] !== undefined;
}

export function hotplugsVolumes(driver: string): boolean {
  return VOLUME_DRIVERS[driver]?.hotplug ?? false;
}

/** Why a VM of this driver with these volumes cannot move (undefined: it can), for a 409 or an evacuation's refusals. */
export function volumesBlockMove(driver: string, volumes: readonly VolumeSpec[] | undefined): string | undefined {
  if (!volumes?.length || (VOLUME_DRIVERS[driver]?.migrates ?? true)) return undefined;
  return (
    `volumes attached (${volumes.map((v) => v.volumeId).join(', ')}): a ${driver} VM's migration does not ` +
    'carry them; detach them first'
  );
}

/** The volumes a VM is created with, and the host they pin it to (null: none given). */
export interface VmVolumeSpecs {
  hostId: string | null;
  volumes: VolumeSpec[];
}
