import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { DriverError, type CallContext, type DomainState, type VmSpec } from '../hypervisor-driver.port.js';
import { kernelBootOf, resolveBaseImage } from '../kit/image-catalog.js';
import { createQcow2, imageInfo, isImageInUse } from '../kit/qemu-img.js';
import { diskBytesOf } from '../kit/safe-name.js';
import { activeDisk } from './libvirt-external-snapshots.js';
import { applySize } from './libvirt-resize.js';
import { isActive, type LibvirtHost } from './libvirt-host.js';
import { isInvalidState, isNotFound } from './virsh.js';

const POLL_MS = 250;

/** Disk from the catalog's base image (or blank), then the domain definition; the VM is stopped. */
export async function defineVm(h: LibvirtHost, spec: VmSpec, ctx: CallContext): Promise<void> {
  const f = h.files(spec.id);
  // Both refuse an image outside the host's catalog before anything is made.
  const kernel = kernelBootOf(spec.image, h.imagesDirs);
  const base = kernel ? undefined : await baseImage(h, spec);
  const created = !existsSync(f.vmDir);
  h.ensureStorageDir(f.vmDir);
  try {
    if (!existsSync(f.disk)) {
      const part = `${f.disk}.part`;
      rmSync(part, { force: true });
      await createQcow2(part, diskBytesOf(spec), base);
      // A crash never leaves a half-made disk that a retried define would keep.
      renameSync(part, f.disk);
    }
    // A redefine keeps the disk file snapshots may have moved the VM to.
    const defined = (await h.domstate(spec.id, ctx)).state !== 'absent';
    await h.defineXml(spec, f, ctx, defined ? await activeDisk(h.chain(spec, ctx)) : f.disk);
  } catch (err) {
    // A failed first define leaves nothing behind: no folder for listDomains to report as ours.
    if (created && (await h.domstate(spec.id, ctx).catch(() => undefined))?.state === 'absent') {
      rmSync(f.vmDir, { recursive: true, force: true });
    }
    throw err;
  }
}

/** `spec.image`: a base qcow2 of the catalog to overlay, checked to fit in diskGiB. */
async function baseImage(h: LibvirtHost, spec: VmSpec): Promise<string | undefined> {
  const image = resolveBaseImage(spec.image, h.imagesDirs);
  if (!image) return undefined;
  const size = (await imageInfo(image, { forceShare: true }))['virtual-size'];
  if (size > diskBytesOf(spec)) {
    throw new DriverError('failed', `base image ${spec.image} (${size} bytes) is larger than diskGiB`);
  }
  return image;
}

export async function startVm(h: LibvirtHost, spec: VmSpec, ctx: CallContext): Promise<void> {
  const s = await h.domstate(spec.id, ctx);
  if (s.state === 'absent') throw h.notDefined(spec.id);
  if (s.state === 'running') return;
  if (s.state === 'migrating') throw new DriverError('conflict', `VM ${spec.id} is migrating (${s.detail})`);
  if (existsSync(h.files(spec.id).incoming)) {
    throw new DriverError('conflict', `an incoming migration of ${spec.id} is prepared here; finish or abort it`);
  }
  if (s.state === 'paused') {
    await h.v(['resume', h.domainName(spec.id)], ctx);
    return;
  }
  rmSync(h.files(spec.id).stopAck, { force: true });
  await applySize(h, spec, ctx);
  await h.v(['start', h.domainName(spec.id)], ctx);
}

export async function stopVm(
  h: LibvirtHost,
  spec: VmSpec,
  opts: { force: boolean; timeoutMs?: number },
  ctx: CallContext,
): Promise<void> {
  const name = h.domainName(spec.id);
  const s = await h.domstate(spec.id, ctx);
  if (s.state === 'absent') throw h.notDefined(spec.id);
  if (s.state === 'migrating') throw new DriverError('conflict', `VM ${spec.id} is migrating (${s.detail})`);
  if (s.state === 'crashed') writeFileSync(h.files(spec.id).stopAck, `${new Date().toISOString()}\n`);
  if (!isActive(s.state)) return;
  // A paused guest cannot answer ACPI; waiting for it would only delay the inevitable destroy.
  if (!opts.force && s.state === 'running') {
    await h.v(['shutdown', name, '--mode', 'acpi'], ctx).catch((err: unknown) => {
      if (!isInvalidState(err)) throw err;
    });
    const deadline = Date.now() + (opts.timeoutMs ?? h.config.stopTimeoutMs);
    while (Date.now() < deadline) {
      if (!isActive((await h.domstate(spec.id, ctx)).state)) return;
      await sleep(POLL_MS);
    }
  }
  await h.hardStop(spec.id, ctx);
}

/** reboot, pause, resume: a verb on a domain that runs (or is paused). */
export async function whileActive(
  h: LibvirtHost,
  spec: VmSpec,
  verb: string,
  ctx: CallContext,
  fn: (name: string, state: DomainState) => Promise<void>,
): Promise<void> {
  const s = await h.domstate(spec.id, ctx);
  if (s.state === 'absent') throw h.notDefined(spec.id);
  if (s.state === 'migrating') throw new DriverError('conflict', `VM ${spec.id} cannot ${verb} while migrating`);
  if (!isActive(s.state)) throw new DriverError('conflict', `VM ${spec.id} is not running (${s.detail ?? s.state})`);
  await fn(h.domainName(spec.id), s.state);
}

export async function destroyVm(h: LibvirtHost, spec: VmSpec, ctx: CallContext): Promise<void> {
  const f = h.files(spec.id);
  const s = await h.domstate(spec.id, ctx);
  if (s.state !== 'absent') {
    if (isActive(s.state)) await h.hardStop(spec.id, ctx);
    await h
      .v(['undefine', h.domainName(spec.id), '--snapshots-metadata', '--managed-save'], ctx)
      .catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
  } else if (existsSync(f.disk) && (await isImageInUse(f.disk))) {
    // Shared storage after a migration: the domain is gone from here and the disk now belongs to
    // the QEMU on another host. Nothing of this host is left; deleting it would pull it from that guest.
    return;
  }
  rmSync(f.vmDir, { recursive: true, force: true });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
