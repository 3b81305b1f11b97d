import type { HostCapabilities } from '../../domain/host/host.events.js';
import type { HostState } from '../../domain/host/host.state.js';
import type { AsOf } from '../../http/fleet-point.js';
import type { FleetState } from '../../projections/fleet-fold.js';
import { toHostView, type HostView } from './host.view.js';

/** GET /v1/hosts?at=: every host registered then, in registration order, as it was. */
export function hostListAt(
  { fleet, asOf }: { fleet: FleetState; asOf: AsOf },
  capabilitiesOf: (state: HostState) => HostCapabilities | null,
): { items: HostView[]; next: null; asOf: AsOf } {
  const items = [...fleet.hosts.values()]
    .filter((h) => h.state.exists)
    .sort((a, b) => (a.firstPosition < b.firstPosition ? -1 : 1))
    .map((h) => toHostView(h.state, capabilitiesOf(h.state), h.revision, h.createdAt, h.updatedAt));
  return { items, next: null, asOf };
}
