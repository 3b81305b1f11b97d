import { DriverError, type CallContext, type VmSpec } from '../hypervisor-driver.port.js';
import { errorMessage } from '../kit/driver-errors.js';
import { imageInfo } from '../kit/qemu-img.js';
import { diskBytesOf } from '../kit/safe-name.js';
import { qemuDriverError } from './qmp-errors.js';
import type { QemuDomain } from './qemu-domain.js';
import {
  DIMM_STEP_MIB,
  MEMORY_SLOTS,
  dimmId,
  memdevId,
  readLayout,
  writeLayout,
  type HotplugLayout,
} from './qemu-hotplug-layout.js';
import type { QmpClient } from './qmp.client.js';

export interface ResizeTarget {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** One entry of `query-hotpluggable-cpus`: a CPU slot, plugged when it has a qom-path. */
interface HotpluggableCpu {
  type: string;
  'vcpus-count': number;
  props: Record<string, number>;
  'qom-path'?: string;
}

/** One entry of `query-memory-devices` (pc-dimm ones carry `data.id` and `data.size`). */
interface MemoryDevice {
  type: string;
  data: { id?: string; size: number };
}

interface MemorySummary {
  'base-memory': number;
  'plugged-memory'?: number;
}

const MIB = 1024 * 1024;

/**
 * Grows a running VM to `to` (totals): the root disk with `block_resize`, vCPUs by plugging CPU
 * devices into the lowest free slots `query-hotpluggable-cpus` lists, memory with one pc-dimm per
 * call. What QEMU reports is the truth for "already there" (a redelivery plugs nothing twice);
 * every size is checked before anything changes, and a cancel is honoured between steps. The
 * guest sees the disk at once; new CPUs and memory blocks may need onlining inside it (a guest
 * without udev: `echo 1 > /sys/devices/system/cpu/cpuN/online`, `echo online > …/memoryN/state`).
 * Run under the VM's lock.
 */
export async function resizeLive(dom: QemuDomain, to: ResizeTarget, ctx: CallContext = {}): Promise<void> {
  const stored = dom.requireSpec();
  if (dom.livePid() === undefined) throw new DriverError('conflict', `VM ${dom.vmId} is not running on this host`);
  const { status } = await dom.queryStatus().catch((err: unknown) => {
    throw qemuDriverError(err, `resize ${dom.vmId}`);
  });
  if (status !== 'running' && status !== 'paused') {
    throw new DriverError('conflict', `VM ${dom.vmId} cannot be resized live while ${status}`);
  }
  const layout = readLayout(dom.paths.vmDir) ?? noHeadroom(stored);
  try {
    const plan = await dom.qmp(async (c) => ({
      cpus: await c.execute<HotpluggableCpu[]>('query-hotpluggable-cpus'),
      memory: await c.execute<MemorySummary>('query-memory-size-summary'),
      devices: await c.execute<MemoryDevice[]>('query-memory-devices'),
    }));
    // QEMU's DIMMs, not the record: a crash between device_add and the record must not lose one.
    const dimms = plan.devices
      .filter((d) => d.type === 'dimm' && d.data.id !== undefined)
      .map((d) => ({ id: d.data.id ?? '', sizeMiB: d.data.size / MIB }));
    const diskBytes = (await imageInfo(dom.paths.disk, { forceShare: true }))['virtual-size'];
    const cpusToPlug = checkVcpus(dom.vmId, plan.cpus, to.vcpus);
    const memoryMiB = (plan.memory['base-memory'] + (plan.memory['plugged-memory'] ?? 0)) / MIB;
    const addMiB = checkMemory(dom.vmId, { ...layout, dimms }, memoryMiB, to.memoryMiB);
    const wantDisk = checkDisk(dom.vmId, diskBytes, to.diskGiB);

    if (wantDisk > diskBytes) {
      checkAbort(ctx, dom.vmId);
      await dom.qmp((c) => c.execute('block_resize', { 'node-name': 'disk0', size: wantDisk }));
    }
    for (const cpu of cpusToPlug) {
      checkAbort(ctx, dom.vmId);
      await dom.qmp((c) => plugCpu(c, cpu));
    }
    if (addMiB > 0) {
      checkAbort(ctx, dom.vmId);
      const n = dimms.length;
      await dom.qmp((c) => plugDimm(c, n, addMiB));
      dimms.push({ id: dimmId(n), sizeMiB: addMiB });
    }
    writeLayout(dom.paths.vmDir, { ...layout, dimms });
  } catch (err) {
    throw qemuDriverError(err, `resize ${dom.vmId}`);
  }
  // The stored spec follows, so the next start boots at the new size (applied cold, DIMMs forgotten).
  dom.writeSpec({ ...stored, vcpus: to.vcpus, memoryMiB: to.memoryMiB, diskGiB: Math.max(stored.diskGiB, to.diskGiB) });
}

/** A VM started before this driver recorded layouts: whatever its spec says, and no room to grow. */
function noHeadroom(spec: VmSpec): HotplugLayout {
  return { baseMemoryMiB: spec.memoryMiB, maxMemoryMiB: spec.memoryMiB, maxVcpus: spec.vcpus, dimms: [] };
}

/** The CPU slots to fill (lowest socket/die/core/thread first, the order a target's `-smp N` boots them in). */
function checkVcpus(vmId: string, slots: HotpluggableCpu[], want: number): HotpluggableCpu[] {
  const plugged = slots.filter((s) => s['qom-path'] !== undefined).length;
  if (!Number.isInteger(want) || want < 1) throw new DriverError('invalid', `invalid vcpus ${want}`);
  if (want < plugged) {
    throw new DriverError('invalid', `VM ${vmId} has ${plugged} vCPUs; removing vCPUs live is not supported`);
  }
  if (want > slots.length) {
    throw new DriverError(
      'invalid',
      `VM ${vmId} was started with room for ${slots.length} vCPUs (maxVcpus); stop the VM to go beyond`,
    );
  }
  const order = (s: HotpluggableCpu): number[] =>
    ['socket-id', 'die-id', 'core-id', 'thread-id'].map((k) => s.props[k] ?? 0);
  const free = slots
    .filter((s) => s['qom-path'] === undefined)
    .sort((a, b) => {
      const [x, y] = [order(a), order(b)];
      const i = x.findIndex((v, k) => v !== y[k]);
      return i < 0 ? 0 : (x[i] ?? 0) - (y[i] ?? 0);
    });
  return free.slice(0, want - plugged);
}

/** MiB to add as one DIMM (0: already there). */
function checkMemory(vmId: string, layout: HotplugLayout, have: number, want: number): number {
  if (!Number.isInteger(want) || want < 1) throw new DriverError('invalid', `invalid memoryMiB ${want}`);
  if (want === have) return 0;
  if (want < have) {
    throw new DriverError('invalid', `VM ${vmId} has ${have} MiB; reducing memory live is not supported`);
  }
  if (want > layout.maxMemoryMiB) {
    throw new DriverError(
      'invalid',
      `VM ${vmId} was started with room for ${layout.maxMemoryMiB} MiB (maxMemoryMiB); stop the VM to go beyond`,
    );
  }
  const add = want - have;
  if (add % DIMM_STEP_MIB !== 0) {
    throw new DriverError(
      'invalid',
      `memoryMiB: live growth comes in steps of ${DIMM_STEP_MIB} MiB (the guest's memory block); ${add} MiB is not one`,
    );
  }
  if (layout.dimms.length >= MEMORY_SLOTS) {
    throw new DriverError('invalid', `VM ${vmId} has used its ${MEMORY_SLOTS} memory slots; stop the VM to grow it`);
  }
  return add;
}

function checkDisk(vmId: string, have: number, wantGiB: number): number {
  const want = diskBytesOf({ diskGiB: wantGiB });
  if (!(wantGiB > 0)) throw new DriverError('invalid', `invalid diskGiB ${wantGiB}`);
  if (want < have)
    throw new DriverError('invalid', `the disk of VM ${vmId} is larger than ${wantGiB} GiB; disks only grow`);
  return want;
}

function checkAbort(ctx: CallContext, vmId: string): void {
  if (ctx.signal?.aborted) {
    throw new DriverError('failed', `resize of ${vmId} aborted: ${errorMessage(ctx.signal.reason)}`);
  }
}

async function plugCpu(c: QmpClient, cpu: HotpluggableCpu): Promise<void> {
  const p = cpu.props;
  const id = `vl-cpu-${p['socket-id'] ?? 0}-${p['die-id'] ?? 0}-${p['core-id'] ?? 0}-${p['thread-id'] ?? 0}`;
  await c.execute('device_add', { driver: cpu.type, id, ...p });
}

/**
 * The backend first, then the DIMM. A backend left by an attempt that died before its
 * device_add is removed first (object-add of an existing id fails); QEMU refuses to delete one
 * a DIMM uses, which this step never reaches because that DIMM's memory is already counted.
 */
async function plugDimm(c: QmpClient, n: number, sizeMiB: number): Promise<void> {
  await c.execute('object-del', { id: memdevId(n) }).catch(() => undefined);
  await c.execute('object-add', { 'qom-type': 'memory-backend-ram', id: memdevId(n), size: sizeMiB * MIB });
  await c.execute('device_add', { driver: 'pc-dimm', id: dimmId(n), memdev: memdevId(n) });
}
