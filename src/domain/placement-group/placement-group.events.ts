import type { DomainEvent } from '../decider.js';
import type { GroupPolicyName } from '../placement/host-ranking.js';
import type { PlacementCandidate } from '../vm/evidence.js';

export type PlacementGroupCreated = DomainEvent<
  'PlacementGroupCreated',
  { groupId: string; name: string; policy: GroupPolicyName; strict: boolean; project: string }
>;
/**
 * A VM joins the group on the host placement chose for it. Appended with the group stream's
 * expected revision: of two concurrent admissions one re-decides against the other, which is
 * what keeps a hard anti-affinity group from landing two members on one host.
 */
export type PlacementGroupMemberAdmitted = DomainEvent<
  'PlacementGroupMemberAdmitted',
  { vmId: string; vmName: string; hostId: string; candidates: PlacementCandidate[]; at: string }
>;
export type PlacementGroupDeleted = DomainEvent<'PlacementGroupDeleted', { groupId: string }>;

export type PlacementGroupEvent = PlacementGroupCreated | PlacementGroupMemberAdmitted | PlacementGroupDeleted;

export const PLACEMENT_GROUP_EVENT_TYPES: readonly PlacementGroupEvent['type'][] = [
  'PlacementGroupCreated',
  'PlacementGroupMemberAdmitted',
  'PlacementGroupDeleted',
];
