import type { GroupPolicyName } from '../placement/host-ranking.js';
import type { MemberView } from './placement-group.commands.js';
import type { PlacementGroupEvent } from './placement-group.events.js';
import type { PlacementCandidate } from '../vm/evidence.js';

export interface PlacementGroupMember {
  vmId: string;
  vmName: string;
  /** Where admission put it (the VM may have moved since: occupancy() asks the read models). */
  hostId: string;
  /** What admission weighed: the VM's placement evidence. */
  candidates: PlacementCandidate[];
  /** When it was admitted (the in-flight window of MemberView starts here). */
  at: string;
}

export interface PlacementGroupState {
  exists: boolean;
  deleted: boolean;
  id: string | null;
  name: string;
  policy: GroupPolicyName;
  strict: boolean;
  project: string;
  /** By vmId, in admission order. */
  members: Record<string, PlacementGroupMember>;
}

export function initialPlacementGroupState(): PlacementGroupState {
  return {
    exists: false,
    deleted: false,
    id: null,
    name: '',
    policy: 'anti-affinity',
    strict: true,
    project: '',
    members: {},
  };
}

export function evolvePlacementGroup(state: PlacementGroupState, event: PlacementGroupEvent): PlacementGroupState {
  switch (event.type) {
    case 'PlacementGroupCreated': {
      const d = event.data;
      return {
        ...state,
        exists: true,
        id: d.groupId,
        name: d.name,
        policy: d.policy,
        strict: d.strict,
        project: d.project,
      };
    }
    case 'PlacementGroupMemberAdmitted': {
      const { vmId, vmName, hostId, candidates, at } = event.data;
      return { ...state, members: { ...state.members, [vmId]: { vmId, vmName, hostId, candidates, at } } };
    }
    case 'PlacementGroupDeleted':
      return { ...state, deleted: true };
  }
}

/**
 * The hosts a member occupies now: where the read models say, plus where it was admitted while
 * that admission is in flight (a move the read models do not show yet). Gone is gone.
 */
export function memberHosts(m: PlacementGroupMember, view: MemberView): string[] {
  const settled = view.settled[m.vmId];
  if (settled && settled.length === 0) return [];
  const inFlight = Date.parse(view.at) - Date.parse(m.at) < view.inFlightMs;
  const hosts = new Set(settled ?? []);
  if (inFlight) hosts.add(m.hostId);
  return [...hosts];
}

/** hostId → names of the live members on it (`except`: the VM being placed or moved). */
export function occupancy(state: PlacementGroupState, view: MemberView, except?: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of Object.values(state.members)) {
    if (m.vmId === except) continue;
    for (const hostId of memberHosts(m, view)) (out[hostId] ??= []).push(m.vmName);
  }
  return out;
}

/** The members still alive (not deleted, not failed, not an admission whose create never came). */
export function liveMembers(state: PlacementGroupState, view: MemberView): PlacementGroupMember[] {
  return Object.values(state.members).filter((m) => memberHosts(m, view).length > 0);
}
