import { join } from 'node:path';
import { DriverError, type VmSpec } from '../hypervisor-driver.port.js';
import { readJson, writeJsonAtomic } from '../kit/vm-files.js';

/**
 * The machine one QEMU process was started with, beyond what its argv from the spec alone says:
 * the ceilings (-smp maxcpus, -m slots/maxmem) and the DIMMs plugged into it since. A live
 * migration target must be started with exactly this (QEMU refuses a stream whose RAM blocks do
 * not match: the boot RAM and every DIMM's backend, by id and size). vCPUs need no record: they
 * are always plugged into the lowest free slot, so `-smp <vcpus>` on the target lays them out
 * as the source has them (checked on QEMU 7.2: a hot-plugged CPU migrates into a boot CPU of the
 * same index).
 */
export interface HotplugLayout {
  /** Boot RAM (`-m`); memory added live is in `dimms`. */
  baseMemoryMiB: number;
  /** Ceiling given to QEMU (`maxmem`); equal to baseMemoryMiB: no memory headroom. */
  maxMemoryMiB: number;
  maxVcpus: number;
  dimms: PluggedDimm[];
}

export interface PluggedDimm {
  /** `vl-dimm-<n>`; its backend is `vl-mem-<n>` (derived from the slot, never from a tenant string). */
  id: string;
  sizeMiB: number;
}

/** DIMM slots QEMU reserves when the VM has memory headroom: each live memory growth uses one. */
export const MEMORY_SLOTS = 16;
/**
 * Linux (x86_64) adds hot-plugged memory in whole memory blocks of 128 MiB: a DIMM of another
 * size would show up in QEMU but never in the guest, so live growth comes in multiples of it.
 */
export const DIMM_STEP_MIB = 128;

export function dimmId(n: number): string {
  return `vl-dimm-${n}`;
}

export function memdevId(n: number): string {
  return `vl-mem-${n}`;
}

/** Beside the VM's disk and spec, so a target on shared storage reads what the source wrote. */
export function layoutPath(vmDir: string): string {
  return join(vmDir, 'hotplug.json');
}

export function readLayout(vmDir: string): HotplugLayout | undefined {
  return readJson<HotplugLayout>(layoutPath(vmDir));
}

export function writeLayout(vmDir: string, layout: HotplugLayout): void {
  writeJsonAtomic(layoutPath(vmDir), layout);
}

/**
 * The layout of the next launch. A start (not a migration target) applies the spec cold: boot
 * RAM is all of memoryMiB and the DIMMs of the last run are forgotten. A migration target
 * takes the source's record when it sees one that adds up to the spec (shared storage);
 * otherwise it starts from the spec, which matches any source that has no DIMMs. The caller
 * records what it launched (writeLayout), which resizeLive then extends.
 */
export function launchLayout(vmDir: string, spec: VmSpec, incoming: boolean): HotplugLayout {
  const fresh: HotplugLayout = {
    baseMemoryMiB: spec.memoryMiB,
    maxMemoryMiB: Math.max(spec.memoryMiB, spec.maxMemoryMiB ?? spec.memoryMiB),
    maxVcpus: Math.max(spec.vcpus, spec.maxVcpus ?? spec.vcpus),
    dimms: [],
  };
  if (!incoming) return fresh;
  const recorded = readLayout(vmDir);
  if (recorded && totalMemoryMiB(recorded) === spec.memoryMiB) return recorded;
  return fresh;
}

/** The argv fields of a launch with this layout (qemu-args.ts). */
export function layoutArgs(layout: HotplugLayout, vcpus: number) {
  return {
    vcpus,
    maxVcpus: layout.maxVcpus,
    memoryMiB: layout.baseMemoryMiB,
    maxMemoryMiB: layout.maxMemoryMiB,
    memorySlots: MEMORY_SLOTS,
    dimms: layout.dimms.map((d, n) => ({ id: d.id, memdev: memdevId(n), sizeMiB: d.sizeMiB })),
  };
}

export function totalMemoryMiB(layout: HotplugLayout): number {
  return layout.baseMemoryMiB + layout.dimms.reduce((sum, d) => sum + d.sizeMiB, 0);
}

/**
 * A target without shared storage cannot see the record, so it would start with all the
 * memory as boot RAM and QEMU would fail the migration half-way with "Length mismatch": refused
 * before anything is copied, with the way out.
 */
export function assertPortableLayout(vmDir: string, vmId: string): void {
  const dimms = readLayout(vmDir)?.dimms ?? [];
  if (dimms.length === 0) return;
  throw new DriverError(
    'conflict',
    `memory was added to VM ${vmId} while it ran (${dimms.length} DIMM${dimms.length > 1 ? 's' : ''}); a live ` +
      'migration to a host without shared storage cannot rebuild that layout: stop and start the VM (it then boots ' +
      'with all its memory), or migrate it cold',
  );
}
