import type { MemberView } from '../../domain/placement-group/placement-group.commands.js';
import { memberHosts, type PlacementGroupState } from '../../domain/placement-group/placement-group.state.js';

export interface PlacementGroupMemberView {
  vmId: string;
  name: string;
  hostIds: string[];
}

export interface PlacementGroupView {
  id: string;
  name: string;
  policy: 'affinity' | 'anti-affinity';
  strict: boolean;
  project: string;
  members: PlacementGroupMemberView[];
  createdAt: string | null;
  deleted: boolean;
}

export function toPlacementGroupView(
  state: PlacementGroupState,
  view: MemberView,
  createdAt: string | null,
): PlacementGroupView {
  const members: PlacementGroupMemberView[] = [];
  for (const m of Object.values(state.members)) {
    const hostIds = memberHosts(m, view);
    if (hostIds.length) members.push({ vmId: m.vmId, name: m.vmName, hostIds });
  }
  return {
    id: state.id ?? '',
    name: state.name,
    policy: state.policy,
    strict: state.strict,
    project: state.project,
    members,
    createdAt,
    deleted: state.deleted,
  };
}
