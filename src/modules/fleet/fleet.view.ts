import type { Resources } from '../../domain/host/host.events.js';
import { allocated } from '../../domain/host/host.state.js';
import type { VmStateName } from '../../domain/vm/vm.types.js';
import type { AsOf } from '../../http/fleet-point.js';
import type { FleetState, InFlightOperation, VmEntry } from '../../projections/fleet-fold.js';

export interface FleetVm {
  id: string;
  name: string;
  state: VmStateName;
  vcpus: number;
  memoryMiB: number;
  /** Set while the VM was migrating: it ran on this host and was moving to that one. */
  migratingTo?: string;
  operation: InFlightOperation | null;
}

export interface FleetHost {
  id: string;
  name: string;
  driver: string;
  state: string;
  capacity: Resources;
  allocated: Resources;
  vms: FleetVm[];
}

export type FleetOperation = InFlightOperation & { vmId: string; hostId: string | null };

export interface FleetView {
  asOf: AsOf;
  hosts: FleetHost[];
  /** VMs on no host at that instant (waiting for placement). */
  unplaced: FleetVm[];
  /** Every operation open at that instant, with the principal who asked for it. */
  operations: FleetOperation[];
}

/** Gone VMs ran nowhere: a deleted or failed create is history, not fleet. */
const GONE: ReadonlySet<VmStateName> = new Set<VmStateName>(['deleted']);

function fleetVm(v: VmEntry): FleetVm {
  const s = v.state;
  return {
    id: s.id ?? '',
    name: s.spec?.name ?? '',
    state: s.state,
    vcpus: s.spec?.vcpus ?? 0,
    memoryMiB: s.spec?.memoryMiB ?? 0,
    ...(s.migration ? { migratingTo: s.migration.targetHostId } : {}),
    operation: v.operation,
  };
}

/** GET /v1/fleet?at=: each host with the VMs it ran, and the operations in flight, in creation order. */
export function toFleetView(
  { fleet, asOf }: { fleet: FleetState; asOf: AsOf },
  visible: (v: VmEntry) => boolean = () => true,
): FleetView {
  const byAge = <T extends { firstPosition: bigint }>(a: T, b: T) => (a.firstPosition < b.firstPosition ? -1 : 1);
  const vms = [...fleet.vms.values()]
    .filter((v) => v.state.exists && !GONE.has(v.state.state) && visible(v))
    .sort(byAge);
  const hosts = [...fleet.hosts.values()]
    .filter((h) => h.state.exists)
    .sort(byAge)
    .map((h) => ({
      id: h.state.id ?? '',
      name: h.state.name,
      driver: h.state.driver,
      state: h.state.state,
      capacity: h.state.capacity,
      allocated: allocated(h.state),
      vms: vms.filter((v) => v.state.hostId === h.state.id).map(fleetVm),
    }));
  const operations = [...fleet.vms.values()]
    .filter((v) => v.operation && visible(v))
    .sort(byAge)
    .map((v) => ({ ...v.operation!, vmId: v.state.id ?? '', hostId: v.state.hostId }));
  return {
    asOf,
    hosts,
    unplaced: vms.filter((v) => !v.state.hostId).map(fleetVm),
    operations,
  };
}
