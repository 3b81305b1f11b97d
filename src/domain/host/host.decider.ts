import type { Decider } from '../decider.js';
import { DomainError } from '../domain-error.js';
import type { HostCommand } from './host.commands.js';
import type { HostEvent, Resources } from './host.events.js';
import { allocatedVmIds, allocationCount, allocationOf } from './allocations.js';
import { allocated, evolveHost, free, initialHostState, type HostState } from './host.state.js';

type Cmd<T extends HostCommand['type']> = Extract<HostCommand, { type: T }>;

const label = (state: HostState) => `host ${state.name} (${state.id})`;

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Disk is counted only on a host whose capacity names it; `held`: what the VM or volume holds already. */
function mustFitDisk(state: HostState, want: number, held: number, what: string): void {
  const room = free(state).diskGiB;
  if (room === undefined || want <= 0) return;
  if (room + held < want) {
    throw new DomainError(
      'capacity',
      `${label(state)} has ${room + held} GiB of disk free; the ${what} needs ${want} GiB`,
      { freeDiskGiB: room + held, neededDiskGiB: want },
    );
  }
}

function mustFit(state: HostState, vmId: string | null, want: Resources): void {
  const room = free(state);
  const held = vmId ? allocationOf(state.allocations, vmId) : undefined;
  // A resize counts what the VM already holds as available to it.
  const avail = { vcpus: room.vcpus + (held?.vcpus ?? 0), memoryMiB: room.memoryMiB + (held?.memoryMiB ?? 0) };
  if (avail.vcpus < want.vcpus || avail.memoryMiB < want.memoryMiB) {
    throw new DomainError(
      'capacity',
      `${label(state)} has ${avail.vcpus} vCPUs and ${avail.memoryMiB} MiB free` +
        `${held ? ' for this VM' : ''}; the VM needs ${want.vcpus} vCPUs and ${want.memoryMiB} MiB`,
      { free: avail, needed: want },
    );
  }
}

function onReserve(cmd: Cmd<'ReserveCapacity'>, state: HostState): HostEvent[] {
  // Idempotent per VM: a saga that crashed after reserving reserves again on resume.
  if (allocationOf(state.allocations, cmd.vmId)) return [];
  if (state.state !== 'active') {
    throw new DomainError('capacity', `${label(state)} is ${state.state} and takes no new VMs`);
  }
  if (state.unreachable) {
    throw new DomainError(
      'capacity',
      `${label(state)} is unreachable (no heartbeat since ${state.unreachable.lastHeartbeatAt}) and takes no new VMs`,
    );
  }
  if (state.fenced) {
    throw new DomainError('capacity', `${label(state)} is fenced (${state.fenced.fenceId}) and takes no new VMs`);
  }
  mustFit(state, null, cmd);
  mustFitDisk(state, cmd.diskGiB ?? 0, 0, 'VM');
  const { vmId, operationId, vcpus, memoryMiB, diskGiB } = cmd;
  return [
    {
      type: 'HostCapacityReserved',
      data: { vmId, operationId, vcpus, memoryMiB, ...(diskGiB !== undefined ? { diskGiB } : {}) },
    },
  ];
}

function onReserveVolumeDisk(cmd: Cmd<'ReserveVolumeDisk'>, state: HostState): HostEvent[] {
  const held = state.volumes?.[cmd.volumeId];
  if (held === cmd.sizeGiB) return [];
  if (held === undefined && (state.state !== 'active' || state.unreachable)) {
    throw new DomainError(
      'capacity',
      `${label(state)} is ${state.unreachable ? 'unreachable' : state.state} and takes no new volumes`,
    );
  }
  mustFitDisk(state, cmd.sizeGiB, held ?? 0, 'volume');
  const { volumeId, operationId, sizeGiB } = cmd;
  return [{ type: 'HostVolumeDiskReserved', data: { volumeId, operationId, sizeGiB } }];
}

/**
 * An administrator may fence only a host the control plane sees unreachable (the evidence goes in
 * the event); a worker's own confirmation needs no silence. Fenced already: nothing more.
 */
function onFence(cmd: Cmd<'FenceHost'>, state: HostState): HostEvent[] {
  if (state.fenced) return [];
  const base = { fenceId: cmd.fenceId, by: cmd.by, ...(cmd.reason ? { reason: cmd.reason } : {}) };
  if (cmd.confirmation) {
    return [{ type: 'HostFenced', data: { ...base, evidence: { kind: 'worker', ...cmd.confirmation } } }];
  }
  if (!state.unreachable) {
    throw new DomainError(
      'conflict',
      `${label(state)} is reachable (its worker heartbeats): only an unreachable host can be fenced`,
    );
  }
  // The evidence is what the heartbeat watch recorded (HostUnreachable), as it recorded it.
  const { lastHeartbeatAt, lastHeartbeatBy, silentMs, observedBy } = state.unreachable;
  const unreachable = { lastHeartbeatAt, lastHeartbeatBy, silentMs, observedBy };
  return [{ type: 'HostFenced', data: { ...base, evidence: { kind: 'admin', unreachable } } }];
}

function onResize(cmd: Cmd<'ResizeReservation'>, state: HostState): HostEvent[] {
  const held = allocationOf(state.allocations, cmd.vmId);
  if (!held) throw new DomainError('conflict', `VM ${cmd.vmId} holds no capacity on ${label(state)}`);
  if (held.vcpus === cmd.vcpus && held.memoryMiB === cmd.memoryMiB) return [];
  mustFit(state, cmd.vmId, cmd);
  const { vmId, operationId, vcpus, memoryMiB } = cmd;
  return [{ type: 'HostCapacityReserved', data: { vmId, operationId, vcpus, memoryMiB } }];
}

function onUpdate(cmd: Cmd<'UpdateHost'>, state: HostState): HostEvent[] {
  const data: { capacity?: Resources; labels?: Record<string, string> } = {};
  // A capacity without diskGiB keeps the disk the host has (older clients send only vCPUs and memory).
  const c = cmd.capacity && {
    ...cmd.capacity,
    ...(state.capacity.diskGiB !== undefined && cmd.capacity.diskGiB === undefined
      ? { diskGiB: state.capacity.diskGiB }
      : {}),
  };
  if (
    c &&
    (c.vcpus !== state.capacity.vcpus ||
      c.memoryMiB !== state.capacity.memoryMiB ||
      c.diskGiB !== state.capacity.diskGiB)
  ) {
    const used = allocated({ ...state, capacity: c });
    if (c.vcpus < used.vcpus || c.memoryMiB < used.memoryMiB || (c.diskGiB ?? Infinity) < (used.diskGiB ?? 0)) {
      throw new DomainError(
        'conflict',
        `capacity: ${label(state)} has ${used.vcpus} vCPUs and ${used.memoryMiB} MiB allocated to ` +
          `${allocationCount(state.allocations)} VMs; it cannot shrink to ${c.vcpus} vCPUs and ${c.memoryMiB} MiB`,
        { allocated: used, requested: c },
      );
    }
    data.capacity = {
      vcpus: c.vcpus,
      memoryMiB: c.memoryMiB,
      ...(c.diskGiB !== undefined ? { diskGiB: c.diskGiB } : {}),
    };
  }
  if (cmd.labels && !sameLabels(cmd.labels, state.labels)) data.labels = { ...cmd.labels };
  if (!data.capacity && !data.labels) return [];
  return [{ type: 'HostUpdated', data }];
}

function onRemove(state: HostState): HostEvent[] {
  const vms = allocatedVmIds(state.allocations);
  if (vms.length > 0) {
    throw new DomainError(
      'conflict',
      `${label(state)} still has ${vms.length} VM${vms.length === 1 ? '' : 's'} (${vms.join(', ')}); ` +
        'evacuate or delete them first',
      { vms },
    );
  }
  const volumes = Object.keys(state.volumes ?? {});
  if (volumes.length > 0) {
    throw new DomainError(
      'conflict',
      `${label(state)} still keeps ${volumes.length} volume${volumes.length === 1 ? '' : 's'} (${volumes.join(', ')}); ` +
        'delete them first',
      { volumes },
    );
  }
  return [{ type: 'HostRemoved', data: { hostId: state.id ?? '', name: state.name } }];
}

function onEvacuate(cmd: Cmd<'StartEvacuation'>, state: HostState): HostEvent[] {
  if (state.evacuations[cmd.operationId]) return [];
  const { operationId, children, refused } = cmd;
  return [
    // Draining first: nothing new lands on the host while it is being emptied.
    ...(state.state === 'active' ? [{ type: 'HostStateChanged' as const, data: { state: 'draining' as const } }] : []),
    { type: 'HostEvacuationStarted', data: { operationId, children, refused } },
  ];
}

export function decideHost(cmd: HostCommand, state: HostState): HostEvent[] {
  if (cmd.type === 'RegisterHost') {
    if (state.exists) throw new DomainError('conflict', `host ${cmd.hostId} already exists`);
    const { type: _type, labels, ...data } = cmd;
    return [{ type: 'HostRegistered', data: { ...data, ...(labels && Object.keys(labels).length ? { labels } : {}) } }];
  }
  if (!state.exists) throw new DomainError('not_found', 'host not found');
  if (state.removed) {
    // Already done: removing again decides nothing; anything else finds no host.
    if (cmd.type === 'RemoveHost' || cmd.type === 'ReleaseCapacity') return [];
    throw new DomainError('not_found', `host ${state.id} was removed`);
  }
  switch (cmd.type) {
    case 'ReserveCapacity':
      return onReserve(cmd, state);
    case 'ResizeReservation':
      return onResize(cmd, state);
    case 'ReserveVolumeDisk':
      return onReserveVolumeDisk(cmd, state);
    case 'ReleaseVolumeDisk':
      if (state.volumes?.[cmd.volumeId] === undefined) return [];
      return [{ type: 'HostVolumeDiskReleased', data: { volumeId: cmd.volumeId, operationId: cmd.operationId } }];
    case 'ReleaseCapacity':
      if (!allocationOf(state.allocations, cmd.vmId)) return [];
      return [{ type: 'HostCapacityReleased', data: { vmId: cmd.vmId, operationId: cmd.operationId } }];
    case 'SetHostState':
      if (state.state === cmd.state) return [];
      return [{ type: 'HostStateChanged', data: { state: cmd.state } }];
    case 'UpdateHost':
      return onUpdate(cmd, state);
    case 'RemoveHost':
      return onRemove(state);
    case 'StartEvacuation':
      return onEvacuate(cmd, state);
    case 'MarkUnreachable': {
      if (state.unreachable) return [];
      const { type: _t, ...data } = cmd;
      return [{ type: 'HostUnreachable', data }];
    }
    case 'FenceHost':
      return onFence(cmd, state);
    case 'MarkReachable': {
      if (!state.unreachable && !state.fenced) return [];
      const { type: _t, ...data } = cmd;
      return [{ type: 'HostReachable', data }];
    }
    // Each act is its own event (retrying twice is two retries); whether the job is still failed is
    // BullMQ's to say, checked by the caller just before.
    case 'RetryQueueJob':
      return [{ type: 'HostJobRetried', data: { ...cmd.job, by: cmd.by } }];
    case 'DiscardQueueJob':
      return [{ type: 'HostJobDiscarded', data: { ...cmd.job, by: cmd.by, reason: cmd.reason } }];
  }
}

export const hostDecider: Decider<HostCommand, HostEvent, HostState> = {
  initialState: initialHostState,
  decide: decideHost,
  evolve: evolveHost,
};
