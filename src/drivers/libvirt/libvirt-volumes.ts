import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, type CallContext, type DriverVolume, type VmSpec } from '../hypervisor-driver.port.js';
import { imageInfo } from '../kit/qemu-img.js';
import {
  createVolumeImage,
  growVolumeImage,
  volumeBytes,
  volumeImagePath,
  volumesDir,
  volumeNodeName,
} from '../kit/volume-files.js';
import { volumeDiskXml } from './domain-xml.js';
import { isActive, type LibvirtHost } from './libvirt-host.js';

/** `virsh domblklist` rows: target → source. */
export function blockList(output: string): Map<string, string> {
  const rows = new Map<string, string>();
  const lines = output.split('\n');
  const start = lines.findIndex((l) => /^-+$/.test(l.trim()));
  for (const line of lines.slice(start + 1)) {
    const [target, source] = line.trim().split(/\s+/);
    if (target && source) rows.set(target, source);
  }
  return rows;
}

/** The volume's qcow2, in a directory libvirt's QEMU user may search (libvirt relabels the file itself). */
export async function createLibvirtVolume(storageDir: string, volume: DriverVolume): Promise<void> {
  await createVolumeImage(storageDir, volume);
  chmodSync(volumesDir(storageDir), 0o711);
}

/**
 * `virsh attach-device --config` (and `--live` when the domain runs) with the `<disk>` that
 * domain-xml.ts writes for a volume; the target is the first `vd[c…]` neither the running nor
 * the persistent definition uses. Already in both: done (a redelivered job).
 */
export async function attachLibvirtVolume(
  h: LibvirtHost,
  spec: VmSpec,
  volume: DriverVolume,
  ctx: CallContext,
): Promise<void> {
  const name = h.domainName(spec.id);
  const s = await h.domstate(spec.id, ctx);
  if (s.state === 'absent') throw h.notDefined(spec.id);
  const path = volumeImagePath(h.storageDir, volume);
  if (!existsSync(path)) throw new DriverError('not_found', `volume ${volume.volumeId} has no file on this host`);
  const running = isActive(s.state);
  const config = blockList(await h.v(['domblklist', name, '--inactive'], ctx));
  const live = running ? blockList(await h.v(['domblklist', name], ctx)) : new Map<string, string>();
  const flags = [
    ...([...config.values()].includes(path) ? [] : ['--config']),
    ...(running && ![...live.values()].includes(path) ? ['--live'] : []),
  ];
  if (flags.length === 0) return;
  const used = new Set([...config.keys(), ...live.keys()]);
  let index = 0;
  while (used.has(`vd${String.fromCharCode(99 + index)}`)) index++;
  const file = join(h.files(spec.id).vmDir, `${volumeNodeName(volume)}.xml`);
  writeFileSync(file, `${volumeDiskXml({ path, index, serial: volumeNodeName(volume) }, '')}\n`);
  await h.v(['attach-device', name, file, ...flags], ctx);
}

/** `virsh detach-disk` by the volume's path, from the persistent definition and the running domain. */
export async function detachLibvirtVolume(
  h: LibvirtHost,
  spec: VmSpec,
  volume: DriverVolume,
  ctx: CallContext,
): Promise<void> {
  const name = h.domainName(spec.id);
  const s = await h.domstate(spec.id, ctx);
  if (s.state === 'absent') throw h.notDefined(spec.id);
  const path = volumeImagePath(h.storageDir, volume);
  const running = isActive(s.state);
  const config = blockList(await h.v(['domblklist', name, '--inactive'], ctx));
  if ([...config.values()].includes(path)) await h.v(['detach-disk', name, path, '--config'], ctx);
  if (running && [...blockList(await h.v(['domblklist', name], ctx)).values()].includes(path)) {
    await h.v(['detach-disk', name, path, '--live'], ctx);
    // The guest lets go asynchronously: done only once the running domain no longer lists it.
    const deadline = Date.now() + 30_000;
    while ([...blockList(await h.v(['domblklist', name], ctx)).values()].includes(path)) {
      if (Date.now() > deadline)
        throw new DriverError('timeout', `the guest did not release volume ${volume.volumeId}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** An attached volume of a running domain grows through libvirt (`virsh blockresize`); otherwise its file does. */
export async function resizeLibvirtVolume(
  h: LibvirtHost,
  volume: DriverVolume,
  vmId: string | undefined,
  ctx: CallContext,
): Promise<void> {
  const path = volumeImagePath(h.storageDir, volume);
  if ((await imageInfo(path, { forceShare: true }))['virtual-size'] >= volumeBytes(volume)) return;
  if (vmId && isActive((await h.domstate(vmId, ctx)).state)) {
    await h.v(['blockresize', h.domainName(vmId), path, `${volumeBytes(volume)}B`], ctx);
    return;
  }
  await growVolumeImage(h.storageDir, volume);
}
