import type { Decider } from '../decider.js';
import { DomainError } from '../domain-error.js';
import type { PlacementGroupCommand } from './placement-group.commands.js';
import type { PlacementGroupEvent } from './placement-group.events.js';
import {
  evolvePlacementGroup,
  initialPlacementGroupState,
  liveMembers,
  occupancy,
  type PlacementGroupState,
} from './placement-group.state.js';

const label = (s: PlacementGroupState) => `placement group ${s.name} (${s.id})`;

function onAdmit(cmd: Extract<PlacementGroupCommand, { type: 'AdmitMember' }>, state: PlacementGroupState) {
  const current = state.members[cmd.vmId];
  // Already admitted there (a retried request): nothing to record.
  if (current?.hostId === cmd.hostId) return [];
  if (state.strict) {
    const others = occupancy(state, cmd.view, cmd.vmId);
    const here = others[cmd.hostId] ?? [];
    if (state.policy === 'anti-affinity' && here.length > 0) {
      throw new DomainError(
        'capacity',
        `${label(state)} is hard anti-affinity and host ${cmd.hostId} runs ${here.join(', ')}`,
        {
          hostId: cmd.hostId,
          members: here,
        },
      );
    }
    const elsewhere = Object.keys(others).filter((h) => h !== cmd.hostId && (others[h] ?? []).length > 0);
    if (state.policy === 'affinity' && here.length === 0 && elsewhere.length > 0) {
      throw new DomainError(
        'capacity',
        `${label(state)} is hard affinity and its members run on ${elsewhere.join(', ')}`,
        {
          hostId: cmd.hostId,
          hosts: elsewhere,
        },
      );
    }
  }
  const { vmId, vmName, hostId, candidates } = cmd;
  const at = cmd.view.at;
  return [{ type: 'PlacementGroupMemberAdmitted' as const, data: { vmId, vmName, hostId, candidates, at } }];
}

export function decidePlacementGroup(cmd: PlacementGroupCommand, state: PlacementGroupState): PlacementGroupEvent[] {
  if (cmd.type === 'CreatePlacementGroup') {
    if (state.exists) throw new DomainError('conflict', `placement group ${cmd.groupId} already exists`);
    const { type: _t, ...data } = cmd;
    return [{ type: 'PlacementGroupCreated', data }];
  }
  if (!state.exists || state.deleted) {
    // Deleting again is already done; anything else finds no group.
    if (cmd.type === 'DeletePlacementGroup' && state.deleted) return [];
    throw new DomainError('not_found', 'placement group not found');
  }
  switch (cmd.type) {
    case 'AdmitMember':
      return onAdmit(cmd, state);
    case 'DeletePlacementGroup': {
      const live = liveMembers(state, cmd.view);
      if (live.length > 0) {
        throw new DomainError(
          'conflict',
          `${label(state)} still has ${live.length} member${live.length === 1 ? '' : 's'} ` +
            `(${live.map((m) => `${m.vmName} ${m.vmId}`).join(', ')}); delete them first`,
          { members: live.map((m) => m.vmId) },
        );
      }
      return [{ type: 'PlacementGroupDeleted', data: { groupId: state.id ?? '' } }];
    }
  }
}

export const placementGroupDecider: Decider<PlacementGroupCommand, PlacementGroupEvent, PlacementGroupState> = {
  initialState: initialPlacementGroupState,
  decide: decidePlacementGroup,
  evolve: evolvePlacementGroup,
};
