import type { AsOf } from '../../http/fleet-point.js';
import type { FleetState } from '../../projections/fleet-fold.js';
import { toVmView, type VmView } from './vm.view.js';

/** GET /v1/vms?at=: every VM that existed then, in creation order as the live list, deleted ones included. */
export function vmListAt({ fleet, asOf }: { fleet: FleetState; asOf: AsOf }): {
  items: VmView[];
  next: null;
  asOf: AsOf;
} {
  const items = [...fleet.vms.values()]
    .filter((v) => v.state.exists)
    .sort((a, b) => (a.firstPosition < b.firstPosition ? -1 : 1))
    .map((v) => toVmView(v.state, v.revision, v.createdAt, v.updatedAt));
  return { items, next: null, asOf };
}
