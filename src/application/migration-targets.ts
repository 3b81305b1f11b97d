import { free, type HostState } from '../domain/host/host.state.js';
import type { Resources } from '../domain/host/host.events.js';

export type TargetChoice = { ok: true; hostId: string } | { ok: false; reason: string };

/**
 * Where a VM leaving `sourceId` can go when no target is named (a migration
 * without targetHostId, an evacuation): an active host of the same driver,
 * not the source, with room, most free memory first. `planned` is what earlier
 * choices of the same request already claimed per host (their reservations
 * are not in the host streams yet), so one evacuation does not overfill a host.
 * The reservation itself still goes through the host decider, which refuses
 * what does not fit; this only picks.
 */
export function chooseMigrationTarget(
  hosts: HostState[],
  sourceId: string,
  driver: string,
  needs: Resources,
  planned: Map<string, Resources> = new Map(),
): TargetChoice {
  const why: string[] = [];
  const fits: { id: string; room: Resources }[] = [];
  for (const h of hosts) {
    if (!h.exists || h.removed || !h.id || h.id === sourceId) continue;
    const name = `${h.name} (${h.id})`;
    if (h.driver !== driver) {
      why.push(`${name} runs ${h.driver}, not ${driver}`);
      continue;
    }
    if (h.state !== 'active') {
      why.push(`${name} is ${h.state}`);
      continue;
    }
    const f = free(h);
    const p = planned.get(h.id) ?? { vcpus: 0, memoryMiB: 0 };
    const room = { vcpus: f.vcpus - p.vcpus, memoryMiB: f.memoryMiB - p.memoryMiB };
    if (room.vcpus < needs.vcpus || room.memoryMiB < needs.memoryMiB) {
      why.push(`${name} has ${room.vcpus} vCPUs and ${room.memoryMiB} MiB free`);
      continue;
    }
    fits.push({ id: h.id, room });
  }
  if (fits.length === 0) {
    const hostList = why.length ? `: ${why.join('; ')}` : ': no other host is registered';
    return { ok: false, reason: `no host can take ${needs.vcpus} vCPUs and ${needs.memoryMiB} MiB${hostList}` };
  }
  fits.sort((a, b) => b.room.memoryMiB - a.room.memoryMiB || b.room.vcpus - a.room.vcpus || a.id.localeCompare(b.id));
  const chosen = fits[0]!.id;
  const p = planned.get(chosen) ?? { vcpus: 0, memoryMiB: 0 };
  planned.set(chosen, { vcpus: p.vcpus + needs.vcpus, memoryMiB: p.memoryMiB + needs.memoryMiB });
  return { ok: true, hostId: chosen };
}

/** Whether two hosts' URIs name the same storage directory (`storage=`): then a migration copies no disk. */
export function sameStorage(a: string, b: string): boolean {
  const dir = (uri: string) => {
    try {
      return new URL(uri).searchParams.get('storage');
    } catch {
      return null;
    }
  };
  const da = dir(a);
  return da !== null && da === dir(b);
}

/** Drivers whose live migration copies the disk's active layer only (QEMU's NBD mirror, libvirt's --copy-storage-all). */
const COPIES_ACTIVE_LAYER_ONLY = new Set(['qemu', 'libvirt']);

/**
 * Whether a live migration between these hosts carries memory a running VM was given live (DIMMs):
 * libvirt sends its live XML; a qemu target starts from the spec and reads the DIMM layout the source
 * recorded beside the disk, which it sees only on shared storage.
 */
export function hotplugLayoutTravels(
  source: { driver: string; uri: string },
  target: { driver: string; uri: string },
): boolean {
  return source.driver !== 'qemu' || sameStorage(source.uri, target.uri);
}

/**
 * Whether a live migration between these hosts keeps a VM's internal (memory) snapshots: it does
 * when nothing is copied (both name the same storage dir) or when the driver moves them itself.
 */
export function internalSnapshotsTravel(
  source: { driver: string; uri: string },
  target: { driver: string; uri: string },
): boolean {
  return !COPIES_ACTIVE_LAYER_ONLY.has(source.driver) || sameStorage(source.uri, target.uri);
}
