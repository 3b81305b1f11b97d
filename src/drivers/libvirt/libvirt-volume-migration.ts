import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { DriverError, type CallContext, type VmSpec } from '../hypervisor-driver.port.js';
import { runTool } from '../kit/run-tool.js';
import { volumeImagePath, volumesDir } from '../kit/volume-files.js';
import type { LibvirtHost } from './libvirt-host.js';
import type { LiveVolumes } from './libvirt-migration.js';
import type { LibvirtEndpoint } from './migration-endpoint.js';
import { blockList, createLibvirtVolume } from './libvirt-volumes.js';

/**
 * Attached volumes travel with a libvirt VM between hosts that do not share storage, like its
 * disk: the target readies an empty file of the volume's size at its own path (prepareIncoming),
 * a live migration has libvirt mirror it there (`--copy-storage-all --migrate-disks vda,vdc…`,
 * the domain XML rewritten to the target's volumes dir), a cold one copies the file; after a
 * successful move the source's copy is removed (the volume now lives on the target only).
 */

/** On the target: every attached volume's file, created empty when absent; returns the ones made here (for an abort). */
export async function readyIncomingVolumes(h: LibvirtHost, spec: VmSpec): Promise<string[]> {
  const created: string[] = [];
  for (const v of spec.volumes ?? []) {
    const path = volumeImagePath(h.storageDir, v);
    if (existsSync(path)) continue; // shared storage, or a retried prepare: kept as it is
    await createLibvirtVolume(h.storageDir, v);
    created.push(path);
  }
  return created;
}

/** The target names no volumes dir (an older driver) while the VM has volumes: refused before anything moves. */
function targetVolumesDir(spec: VmSpec, e: LibvirtEndpoint): string | undefined {
  if ((spec.volumes ?? []).length === 0) return undefined;
  if (!e.volumesDir) {
    throw new DriverError('conflict', `VM ${spec.id} has volumes and the target (${e.uri}) did not say where they go`);
  }
  return e.volumesDir;
}

export async function liveVolumes(
  h: LibvirtHost,
  spec: VmSpec,
  e: LibvirtEndpoint,
  ctx: CallContext,
): Promise<LiveVolumes | undefined> {
  const toDir = targetVolumesDir(spec, e);
  if (!toDir) return undefined;
  const fromDir = volumesDir(h.storageDir);
  const rows = blockList(await h.v(['domblklist', h.domainName(spec.id)], ctx));
  const targets = [...rows].filter(([, source]) => source.startsWith(`${fromDir}/`)).map(([target]) => target);
  return { fromDir, toDir, targets };
}

/** Cold: each volume's file copied over the empty one the target made (sparse, like the disk). */
export async function copyVolumesOut(
  h: LibvirtHost,
  spec: VmSpec,
  e: LibvirtEndpoint,
  ctx: CallContext,
): Promise<void> {
  const toDir = targetVolumesDir(spec, e);
  if (!toDir) return;
  for (const v of spec.volumes ?? []) {
    const from = volumeImagePath(h.storageDir, v);
    if (!existsSync(from)) throw new DriverError('not_found', `volume ${v.volumeId} has no file on ${h.uri}`);
    const to = volumeImagePath(dirname(toDir), v);
    await runTool('cp', ['--sparse=always', '--', from, to], {
      timeoutMs: h.config.migrationTimeoutMs,
      signal: ctx.signal,
    });
  }
}

/** After the move succeeded: the source's copies go (the target's are the volume now). */
export function removeMovedVolumes(h: LibvirtHost, spec: VmSpec): void {
  for (const v of spec.volumes ?? []) rmSync(volumeImagePath(h.storageDir, v), { force: true });
}
