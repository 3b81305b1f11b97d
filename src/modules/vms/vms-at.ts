import type { AsOf } from '../../http/fleet-point.js';
import type { FleetState } from '../../projections/fleet-fold.js';
import { vmMatches, type VmListFilter } from '../../projections/list-filters.js';
import type { VmRecord } from '../../projections/read-model.types.js';
import { toVmView, type VmView } from './vm.view.js';

/**
 * GET /v1/vms?at=: the VMs that existed then, in creation order and with the same
 * filters (deleted ones hidden unless asked for) and `hostName` as the live list, so
 * the list at an instant reads exactly as the live one did at that instant.
 */
export function vmListAt(
  { fleet, asOf }: { fleet: FleetState; asOf: AsOf },
  filter: VmListFilter,
  visible: (r: VmRecord) => boolean,
): { items: VmView[]; next: null; asOf: AsOf } {
  const items = [...fleet.vms.values()]
    .filter((v) => v.state.exists)
    .filter((v) => {
      const rec = { state: v.state, revision: String(v.revision), createdAt: v.createdAt, updatedAt: v.updatedAt };
      return vmMatches(filter, rec) && visible(rec);
    })
    .sort((a, b) => (a.firstPosition < b.firstPosition ? -1 : 1))
    .map((v) => {
      const view = toVmView(v.state, v.revision, v.createdAt, v.updatedAt);
      const host = view.hostId ? fleet.hosts.get(view.hostId) : undefined;
      return { ...view, hostName: host?.state.name ?? null };
    });
  return { items, next: null, asOf };
}
