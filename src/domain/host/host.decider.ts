import type { Decider } from '../decider.js';
import { DomainError } from '../domain-error.js';
import type { HostCommand } from './host.commands.js';
import type { HostEvent } from './host.events.js';
import { evolveHost, free, initialHostState, type HostState } from './host.state.js';

export function decideHost(cmd: HostCommand, state: HostState): HostEvent[] {
  if (cmd.type === 'RegisterHost') {
    if (state.exists) throw new DomainError('conflict', `host ${cmd.hostId} already exists`);
    const { type: _type, ...data } = cmd;
    return [{ type: 'HostRegistered', data }];
  }
  if (!state.exists) throw new DomainError('not_found', 'host not found');
  switch (cmd.type) {
    case 'ReserveCapacity': {
      // Idempotent per VM: a saga that crashed after reserving reserves again on resume.
      if (state.allocations[cmd.vmId]) return [];
      if (state.state !== 'active') {
        throw new DomainError('capacity', `host ${state.name} (${state.id}) is ${state.state} and takes no new VMs`);
      }
      const room = free(state);
      if (room.vcpus < cmd.vcpus || room.memoryMiB < cmd.memoryMiB) {
        throw new DomainError(
          'capacity',
          `host ${state.name} (${state.id}) has ${room.vcpus} vCPUs and ${room.memoryMiB} MiB free; ` +
            `the VM needs ${cmd.vcpus} vCPUs and ${cmd.memoryMiB} MiB`,
        );
      }
      return [
        {
          type: 'HostCapacityReserved',
          data: { vmId: cmd.vmId, operationId: cmd.operationId, vcpus: cmd.vcpus, memoryMiB: cmd.memoryMiB },
        },
      ];
    }
    case 'ReleaseCapacity':
      if (!state.allocations[cmd.vmId]) return [];
      return [{ type: 'HostCapacityReleased', data: { vmId: cmd.vmId, operationId: cmd.operationId } }];
    case 'SetHostState':
      if (state.state === cmd.state) return [];
      return [{ type: 'HostStateChanged', data: { state: cmd.state } }];
  }
}

export const hostDecider: Decider<HostCommand, HostEvent, HostState> = {
  initialState: initialHostState,
  decide: decideHost,
  evolve: evolveHost,
};
