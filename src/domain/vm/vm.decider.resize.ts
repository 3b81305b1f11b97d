import { DomainError } from '../domain-error.js';
import type { VmCommand } from './vm.commands.js';
import type { VmEvent } from './vm.events.js';
import { ready } from './vm.guards.js';
import type { PendingOperation, VmState } from './vm.state.js';
import { ceilingsOf, type HotResizeView, type VmSize, type VmSpecData } from './vm.types.js';

type Cmd<T extends VmCommand['type']> = Extract<VmCommand, { type: T }>;

/**
 * PATCH size. Stopped: cold, recorded at once (VmResized), applied by the driver at the next start;
 * a ceiling the new size passes rises with it. Running: live, where the host's driver declares it
 * (hotResize), within the VM's ceilings, and only the ways the driver can go: VmResizeStarted opens
 * a `resize` operation the worker carries out. A disk only grows either way. Same size → nothing.
 */
export function onResize(cmd: Cmd<'ResizeVm'>, state: VmState): VmEvent[] {
  ready(state, ['stopped', 'running'], 'resize');
  const spec = state.spec;
  if (!spec) return [];
  const from: VmSize = { vcpus: spec.vcpus, memoryMiB: spec.memoryMiB, diskGiB: spec.diskGiB };
  const to: VmSize = {
    vcpus: cmd.vcpus ?? spec.vcpus,
    memoryMiB: cmd.memoryMiB ?? spec.memoryMiB,
    diskGiB: cmd.diskGiB ?? spec.diskGiB,
  };
  if (to.diskGiB < from.diskGiB) {
    throw new DomainError('invalid', `diskGiB: a disk only grows (it has ${from.diskGiB} GiB, asked ${to.diskGiB})`);
  }
  if (to.vcpus === from.vcpus && to.memoryMiB === from.memoryMiB && to.diskGiB === from.diskGiB) return [];
  if (state.state === 'stopped') {
    return [{ type: 'VmResized', data: { operationId: cmd.operationId, ...to, ...raisedCeilings(spec, to) } }];
  }
  checkLive(cmd.capabilities?.hotResize, spec, from, to);
  return [{ type: 'VmResizeStarted', data: { operationId: cmd.operationId, from, to, live: true } }];
}

/** A cold resize past a ceiling raises it to the new size (the VM starts again with it). */
function raisedCeilings(spec: VmSpecData, to: VmSize): { maxVcpus?: number; maxMemoryMiB?: number } {
  const { maxVcpus, maxMemoryMiB } = ceilingsOf(spec);
  return {
    ...(to.vcpus > maxVcpus ? { maxVcpus: to.vcpus } : {}),
    ...(to.memoryMiB > maxMemoryMiB ? { maxMemoryMiB: to.memoryMiB } : {}),
  };
}

const STOP_FIRST = 'stop the VM to resize it cold';

/** Everything the control plane knows up front about a live resize, refused before any event. */
function checkLive(hot: HotResizeView | undefined, spec: VmSpecData, from: VmSize, to: VmSize): void {
  if (!hot) {
    throw new DomainError('unsupported', `the host's driver cannot resize a running VM: ${STOP_FIRST}`, {
      fields: changed(from, to),
    });
  }
  const { maxVcpus, maxMemoryMiB } = ceilingsOf(spec);
  dimension('vcpus', 'vCPUs', hot.vcpus, from.vcpus, to.vcpus, 'maxVcpus', maxVcpus);
  dimension('memoryMiB', 'memory', hot.memory, from.memoryMiB, to.memoryMiB, 'maxMemoryMiB', maxMemoryMiB);
  const step = hot.memoryStepMiB;
  if (step && (to.memoryMiB - from.memoryMiB) % step !== 0) {
    // A DIMM the guest onlines whole: a smaller one would be plugged and never seen.
    throw new DomainError(
      'invalid',
      `memoryMiB: a running VM on this host changes memory in steps of ${step} MiB ` +
        `(it has ${from.memoryMiB}, asked ${to.memoryMiB}): ${STOP_FIRST} to another size`,
    );
  }
  if (to.diskGiB > from.diskGiB && !hot.diskGrow) {
    throw new DomainError(
      'unsupported',
      `diskGiB: the host's driver cannot grow the disk of a running VM: ${STOP_FIRST}`,
    );
  }
}

function dimension(
  field: 'vcpus' | 'memoryMiB',
  what: string,
  can: HotResizeView['vcpus'],
  from: number,
  to: number,
  ceilingField: 'maxVcpus' | 'maxMemoryMiB',
  ceiling: number,
): void {
  if (to === from) return;
  if (can === 'none') {
    throw new DomainError(
      'unsupported',
      `${field}: the host's driver cannot change the ${what} of a running VM: ${STOP_FIRST}`,
    );
  }
  if (to < from && can === 'grow') {
    throw new DomainError(
      'unsupported',
      `${field}: the host's driver can only add ${what} to a running VM (it has ${from}, asked ${to}): ${STOP_FIRST}`,
    );
  }
  if (to > ceiling) {
    throw new DomainError(
      'conflict',
      `${field}: ${to} is above the VM's ceiling ${ceilingField} ${ceiling}, which a running VM cannot pass: ` +
        'stop the VM to go beyond it (a cold resize raises the ceiling)',
      { field, [ceilingField]: ceiling, requested: to },
    );
  }
}

function changed(from: VmSize, to: VmSize): string[] {
  return (['vcpus', 'memoryMiB', 'diskGiB'] as const).filter((k) => from[k] !== to[k]);
}

/** The worker applied the size: the VM has it now (its ceilings stay). */
export function resizeSucceeded(p: PendingOperation): VmEvent[] {
  if (!p.resizeTo) return [];
  return [{ type: 'VmResized', data: { operationId: p.id, ...p.resizeTo, live: true } }];
}
