import { existsSync, rmSync } from 'node:fs';
import { DriverError, type CallContext, type MigrationEndpoint, type VmSpec } from '../hypervisor-driver.port.js';
import { createQcow2 } from '../kit/qemu-img.js';
import { diskBytesOf } from '../kit/safe-name.js';
import { volumesDir } from '../kit/volume-files.js';
import { readJson, storageId, writeJsonAtomic } from '../kit/vm-files.js';
import { activeDisk, readChainRecord, tidy } from './libvirt-external-snapshots.js';
import { isActive, type LibvirtHost } from './libvirt-host.js';
import { redefineSnapshots } from './libvirt-migration.js';
import { readyIncomingVolumes } from './libvirt-volume-migration.js';
import { toWire, type LibvirtEndpoint } from './migration-endpoint.js';

/** What prepareIncoming made, so an abort removes exactly that and a retried prepare answers the same. */
interface IncomingRecord {
  createdVmDir: boolean;
  createdDisk: boolean;
  /** Volume files made empty here for the VM's attached volumes (removed again by an abort). */
  createdVolumes?: string[];
  endpoint: MigrationEndpoint;
}

export async function prepareIncoming(
  h: LibvirtHost,
  spec: VmSpec,
  opts: { live: boolean },
  ctx: CallContext,
): Promise<MigrationEndpoint> {
  const peerUri = h.config.peerUri;
  if (!peerUri) {
    throw new DriverError(
      'unsupported',
      `host ${h.binding.id} (${h.uri}) cannot receive a migration: its URI has no peerUri= that other libvirtds can reach`,
    );
  }
  const f = h.files(spec.id);
  const previous = readJson<IncomingRecord>(f.incoming);
  if (previous) return previous.endpoint; // a retried prepare answers the same
  const s = await h.domstate(spec.id, ctx);
  if (s.state !== 'absent') throw new DriverError('conflict', `VM ${spec.id} is already defined on ${h.uri}`);
  const createdVmDir = !existsSync(f.vmDir);
  h.ensureStorageDir(f.vmDir);
  // On shared storage the source's disk is already here, and is kept as it is.
  const createdDisk = !existsSync(f.disk);
  if (createdDisk) await createQcow2(f.disk, diskBytesOf(spec));
  const createdVolumes = await readyIncomingVolumes(h, spec);
  const endpoint: LibvirtEndpoint = {
    driver: 'libvirt',
    mode: opts.live ? 'live' : 'cold',
    uri: peerUri,
    migrationHost: h.config.migrationHost ?? '',
    storageId: storageId(h.storageDir),
    diskPath: f.disk,
    diskBytes: diskBytesOf(spec),
    volumesDir: volumesDir(h.storageDir),
  };
  const record: IncomingRecord = { createdVmDir, createdDisk, createdVolumes, endpoint: toWire(endpoint) };
  writeJsonAtomic(f.incoming, record);
  return record.endpoint;
}

export async function finishIncoming(
  h: LibvirtHost,
  spec: VmSpec,
  opts: { live: boolean },
  ctx: CallContext,
): Promise<void> {
  const f = h.files(spec.id);
  const s = await h.domstate(spec.id, ctx);
  const prepared = existsSync(f.incoming);
  if (s.state === 'absent' && !prepared) {
    throw new DriverError('not_found', `no migration of ${spec.id} was prepared on ${h.uri}`);
  }
  if (opts.live && !isActive(s.state) && s.state !== 'migrating') {
    throw new DriverError(
      'failed',
      `VM ${spec.id} is not running on ${h.uri} after the migration (${s.detail ?? s.state})`,
    );
  }
  // Our own definition (this host's disk path and id in the metadata) becomes the persistent
  // one; on shared storage the running disk may be a disk.<n>.qcow2 left by snapshot deletions.
  const chain = h.chain(spec, ctx);
  const disk = s.state === 'absent' ? (readChainRecord(f.vmDir).active ?? f.disk) : await activeDisk(chain);
  await h.defineXml(spec, f, ctx, disk);
  const known = new Set((await h.snapshots(spec.id, ctx)).map((x) => x.name));
  await redefineSnapshots(h.virshCall, h.domainName(spec.id), f.vmDir, known, ctx);
  // The empty disk.qcow2 prepareIncoming made is not needed when the VM arrived on other files.
  if (!opts.live) await tidy(chain);
  rmSync(f.incoming, { force: true });
}

export async function abortIncoming(h: LibvirtHost, spec: VmSpec, ctx: CallContext): Promise<void> {
  const f = h.files(spec.id);
  const record = readJson<IncomingRecord>(f.incoming);
  if (!record) return;
  const s = await h.domstate(spec.id, ctx);
  if (s.state === 'absent') {
    if (record.createdVmDir) rmSync(f.vmDir, { recursive: true, force: true });
    else if (record.createdDisk) rmSync(f.disk, { force: true });
    for (const path of record.createdVolumes ?? []) rmSync(path, { force: true });
  }
  rmSync(f.incoming, { force: true });
}
