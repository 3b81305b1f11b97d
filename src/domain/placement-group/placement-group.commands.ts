import type { GroupPolicyName } from '../placement/host-ranking.js';
import type { PlacementCandidate } from '../vm/evidence.js';

/**
 * Where each member is now as the read models say (vmId → host ids it occupies; [] once
 * deleted or failed). A member the read models do not show yet counts where it was admitted
 * while its admission is younger than `inFlightMs` (its create is on its way); an older one
 * never became a VM (the create failed after admission) and counts nowhere.
 */
export interface MemberView {
  settled: Record<string, string[]>;
  /** Now, as the caller's clock says (the decider has none). */
  at: string;
  inFlightMs: number;
}

export type PlacementGroupCommand =
  | {
      type: 'CreatePlacementGroup';
      groupId: string;
      name: string;
      policy: GroupPolicyName;
      strict: boolean;
      project: string;
    }
  | {
      type: 'AdmitMember';
      vmId: string;
      vmName: string;
      hostId: string;
      candidates: PlacementCandidate[];
      view: MemberView;
    }
  | { type: 'DeletePlacementGroup'; view: MemberView };
