import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DriverError, type CallContext, type VmSpec } from '../hypervisor-driver.port.js';
import { errorMessage } from '../kit/driver-errors.js';
import { diskBytesOf } from '../kit/safe-name.js';
import { DIMM_STEP_MIB, MEMORY_SLOTS } from './domain-xml.js';
import { isActive, type LibvirtHost } from './libvirt-host.js';

export interface ResizeTarget {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** What the running domain has now, from its live XML (libvirt's own record of what was plugged). */
export interface LiveSize {
  vcpus: number;
  maxVcpus: number;
  memoryMiB: number;
  /** Absent: defined without `<maxMemory>`, no room for DIMMs. */
  maxMemoryMiB?: number;
  dimms: number;
}

export function liveSize(xml: string): LiveSize {
  const max = Number(/<vcpu[^>]*>(\d+)<\/vcpu>/.exec(xml)?.[1] ?? 0);
  const current = /<vcpu[^>]*current='(\d+)'/.exec(xml)?.[1];
  const kib = (re: RegExp): number | undefined => {
    const m = re.exec(xml);
    return m ? Number(m[2]) * (m[1] === 'GiB' ? 1024 * 1024 : m[1] === 'MiB' ? 1024 : 1) : undefined;
  };
  const memoryKiB = kib(/<memory unit='(KiB|MiB|GiB)'>(\d+)<\/memory>/) ?? 0;
  const maxMemoryKiB = kib(/<maxMemory[^>]*unit='(KiB|MiB|GiB)'>(\d+)<\/maxMemory>/);
  return {
    vcpus: current ? Number(current) : max,
    maxVcpus: max,
    memoryMiB: memoryKiB / 1024,
    ...(maxMemoryKiB !== undefined ? { maxMemoryMiB: maxMemoryKiB / 1024 } : {}),
    dimms: (xml.match(/<memory model='dimm'/g) ?? []).length,
  };
}

/**
 * Grows a running domain to `to` (totals): `blockresize` of vda, `setvcpus --live --config`, and
 * one `<memory model='dimm'>` per call through `attach-device --live --config`. libvirt's live
 * XML is the truth for "already there" (a redelivery changes nothing); every size is checked
 * before anything changes, and a cancel is honoured between steps. `--config` keeps the vCPUs
 * and DIMMs for a restart; the next start regenerates the definition from the spec anyway
 * (libvirt-resize.ts). A live migration carries the live XML, so the target has the same DIMMs.
 */
export async function resizeLibvirtLive(
  h: LibvirtHost,
  spec: VmSpec,
  to: ResizeTarget,
  ctx: CallContext,
): Promise<void> {
  const name = h.domainName(spec.id);
  const s = await h.domstate(spec.id, ctx);
  if (!isActive(s.state)) {
    throw new DriverError('conflict', `VM ${spec.id} is not running on this host (${s.detail ?? s.state})`);
  }
  const have = liveSize(await h.v(['dumpxml', name], ctx));
  const capacity = Number(/^Capacity:\s+(\d+)/m.exec(await h.v(['domblkinfo', name, 'vda'], ctx))?.[1]);
  checkVcpus(spec.id, have, to.vcpus);
  const addMiB = memoryToAdd(spec.id, have, to.memoryMiB);
  const wantDisk = diskBytesOf({ diskGiB: to.diskGiB });
  if (!(to.diskGiB > 0)) throw new DriverError('invalid', `invalid diskGiB ${to.diskGiB}`);
  if (wantDisk < capacity) {
    throw new DriverError('invalid', `the disk of VM ${spec.id} is larger than ${to.diskGiB} GiB; disks only grow`);
  }

  if (wantDisk > capacity) {
    checkAbort(ctx, spec.id);
    await h.v(['blockresize', name, 'vda', '--size', `${wantDisk}B`], ctx);
  }
  if (to.vcpus > have.vcpus) {
    checkAbort(ctx, spec.id);
    await h.v(['setvcpus', name, String(to.vcpus), '--live', '--config'], ctx);
  }
  if (addMiB > 0) {
    checkAbort(ctx, spec.id);
    const file = join(h.files(spec.id).vmDir, 'dimm.xml');
    writeFileSync(file, dimmXml(addMiB));
    await h.v(['attach-device', name, file, '--live', '--config'], ctx);
  }
}

function checkVcpus(vmId: string, have: LiveSize, want: number): void {
  if (!Number.isInteger(want) || want < 1) throw new DriverError('invalid', `invalid vcpus ${want}`);
  if (want < have.vcpus) {
    throw new DriverError('invalid', `VM ${vmId} has ${have.vcpus} vCPUs; removing vCPUs live is not supported`);
  }
  if (want > have.maxVcpus) {
    throw new DriverError(
      'invalid',
      `VM ${vmId} was started with room for ${have.maxVcpus} vCPUs (maxVcpus); stop the VM to go beyond`,
    );
  }
}

function memoryToAdd(vmId: string, have: LiveSize, want: number): number {
  if (!Number.isInteger(want) || want < 1) throw new DriverError('invalid', `invalid memoryMiB ${want}`);
  if (want === have.memoryMiB) return 0;
  if (want < have.memoryMiB) {
    throw new DriverError('invalid', `VM ${vmId} has ${have.memoryMiB} MiB; reducing memory live is not supported`);
  }
  const max = have.maxMemoryMiB ?? have.memoryMiB;
  if (want > max) {
    throw new DriverError(
      'invalid',
      `VM ${vmId} was started with room for ${max} MiB (maxMemoryMiB); stop the VM to go beyond`,
    );
  }
  const add = want - have.memoryMiB;
  if (add % DIMM_STEP_MIB !== 0) {
    throw new DriverError(
      'invalid',
      `memoryMiB: live growth comes in steps of ${DIMM_STEP_MIB} MiB (the guest's memory block); ${add} MiB is not one`,
    );
  }
  if (have.dimms >= MEMORY_SLOTS) {
    throw new DriverError('invalid', `VM ${vmId} has used its ${MEMORY_SLOTS} memory slots; stop the VM to grow it`);
  }
  return add;
}

/** One DIMM on NUMA node 0 (the only cell domain-xml.ts defines). */
export function dimmXml(sizeMiB: number): string {
  if (!Number.isSafeInteger(sizeMiB) || sizeMiB <= 0) throw new Error(`not a DIMM size: ${sizeMiB}`);
  return [
    `<memory model='dimm'>`,
    `  <target>`,
    `    <size unit='MiB'>${sizeMiB}</size>`,
    `    <node>0</node>`,
    `  </target>`,
    `</memory>`,
    '',
  ].join('\n');
}

function checkAbort(ctx: CallContext, vmId: string): void {
  if (ctx.signal?.aborted) {
    throw new DriverError('failed', `resize of ${vmId} aborted: ${errorMessage(ctx.signal.reason)}`);
  }
}
