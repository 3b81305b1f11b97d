import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { DriverError, type CallContext, type MigrationEndpoint, type VmSpec } from '../hypervisor-driver.port.js';
import { storageId } from '../kit/vm-files.js';
import { activeDisk, handOverChain, migrationBlocker } from './libvirt-external-snapshots.js';
import { isActive, type LibvirtHost } from './libvirt-host.js';
import { handOverSnapshots, migrateLive } from './libvirt-migration.js';
import { copyVolumesOut, liveVolumes, removeMovedVolumes } from './libvirt-volume-migration.js';
import { parseEndpoint } from './migration-endpoint.js';

/**
 * Sends the VM to the target that prepareIncoming readied: `virsh migrate --live --p2p` while it
 * runs, or its disk files and snapshot definitions while it is stopped.
 */
export async function migrateOut(
  h: LibvirtHost,
  spec: VmSpec,
  raw: MigrationEndpoint,
  opts: { live: boolean },
  ctx: CallContext,
): Promise<void> {
  const endpoint = parseEndpoint(raw, spec.id);
  const name = h.domainName(spec.id);
  const s = await h.domstate(spec.id, ctx);
  if (s.state === 'absent') {
    // A redelivered migrate after the first one succeeded: the VM already lives on the target.
    // (cold: the definition left here once the disk was at the target's path; finishIncoming defines it there)
    if (!opts.live && existsSync(endpoint.diskPath)) return;
    const there = await h.domstateAt(endpoint.uri, name, ctx);
    if (there.state !== 'absent') return;
    throw new DriverError('not_found', `VM ${spec.id} is neither on ${h.uri} nor on ${endpoint.uri}`);
  }
  const shared = endpoint.storageId === storageId(h.storageDir);
  const f = h.files(spec.id);
  const chain = h.chain(spec, ctx);
  if (opts.live) {
    if (!isActive(s.state)) throw new DriverError('conflict', `a live migration needs VM ${spec.id} running`);
    // Deleted snapshots can leave the disk in disk.<n>.qcow2; the target mirrors it into disk.qcow2.
    const disk = await activeDisk(chain);
    const blocker = await migrationBlocker(chain, disk);
    if (blocker) throw new DriverError('conflict', `VM ${spec.id} cannot migrate live: ${blocker}`);
    const volumes = shared ? undefined : await liveVolumes(h, spec, endpoint, ctx);
    const m = { uri: h.uri, domain: name, vmDir: f.vmDir, disk, endpoint, shared, ...(volumes ? { volumes } : {}) };
    const { migrationTimeoutMs: timeoutMs, migrationBandwidth: bandwidthMiB } = h.config;
    await migrateLive(h.virshCall, { ...m, timeoutMs, ...(bandwidthMiB ? { bandwidthMiB } : {}) }, ctx);
  } else {
    if (isActive(s.state)) throw new DriverError('conflict', `a cold migration needs VM ${spec.id} stopped`);
    // Cold: the disk files, external snapshots included, go to the target's dir (nothing to
    // copy on shared storage) and finishIncoming defines the domain there; `virsh migrate
    // --offline` would move the definition only.
    await handOverChain(chain, shared ? undefined : dirname(endpoint.diskPath), h.config.migrationTimeoutMs);
    if (!shared) await copyVolumesOut(h, spec, endpoint, ctx);
    await handOverSnapshots(h.virshCall, name, f.vmDir, endpoint, ctx);
    await h.v(['undefine', name, '--snapshots-metadata', '--managed-save'], ctx);
  }
  if (!shared) {
    rmSync(f.vmDir, { recursive: true, force: true });
    removeMovedVolumes(h, spec);
  }
}
