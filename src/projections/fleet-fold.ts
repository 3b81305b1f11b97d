import type { RecordedEvent } from '../eventstore/event-store.port.js';
import { hostIdOf, vmIdOf } from '../domain/streams.js';
import { upcast } from '../domain/upcasters.js';
import { isVmEventType, type VmEvent } from '../domain/vm/vm.events.js';
import { evolveVm, initialVmState, type VmState } from '../domain/vm/vm.state.js';
import { isHostEventType, type HostEvent } from '../domain/host/host.events.js';
import { evolveHost, initialHostState, type HostState } from '../domain/host/host.state.js';

/** An operation open on a VM at some instant, with who asked for it (the event that opened it). */
export interface InFlightOperation {
  id: string;
  kind: string;
  step: string;
  principal: string;
  reason?: string;
  since: string;
}

/** One stream folded up to some point, with what its view needs besides the state. */
export interface Folded<S> {
  state: S;
  revision: bigint;
  createdAt: string;
  updatedAt: string;
  /** Position of the stream's first event: lists are in creation order, like the live read models. */
  firstPosition: bigint;
}

export interface VmEntry extends Folded<VmState> {
  operation: InFlightOperation | null;
}
export type HostEntry = Folded<HostState>;

/** The whole fleet after every VM and host event up to `position` (undefined: before the first). */
export interface FleetState {
  position: bigint | undefined;
  /** Latest `at` among the events folded so far (the log's clock may step back; this never does). */
  maxAt: number;
  vms: Map<string, VmEntry>;
  hosts: Map<string, HostEntry>;
}

export function emptyFleet(): FleetState {
  return { position: undefined, maxAt: Number.NEGATIVE_INFINITY, vms: new Map(), hosts: new Map() };
}

/** A copy whose maps can change without touching the original (entries are immutable, so a shallow copy). */
export function copyFleet(f: FleetState): FleetState {
  return { position: f.position, maxAt: f.maxAt, vms: new Map(f.vms), hosts: new Map(f.hosts) };
}

function operationAfter(before: VmEntry | undefined, after: VmState, e: RecordedEvent): InFlightOperation | null {
  const p = after.pending;
  if (!p) return null;
  const prev = before?.operation;
  // Same operation moving to its next step: keep who opened it.
  if (prev && prev.id === p.id) return { ...prev, step: p.awaiting };
  return {
    id: p.id,
    kind: p.kind,
    step: p.awaiting,
    principal: e.metadata.principal,
    ...(e.metadata.reason ? { reason: e.metadata.reason } : {}),
    since: e.metadata.at,
  };
}

/** Applies one logged event to the fleet in place (the caller owns `fleet`); events of other streams only move the position. */
export function applyToFleet(fleet: FleetState, recorded: RecordedEvent): void {
  fleet.position = recorded.position;
  const t = Date.parse(recorded.metadata.at);
  if (t > fleet.maxAt) fleet.maxAt = t;
  const vmId = vmIdOf(recorded.streamId);
  if (vmId && isVmEventType(recorded.type)) {
    const e = upcast(recorded);
    const before = fleet.vms.get(vmId);
    const state = evolveVm(before?.state ?? initialVmState(), { type: e.type, data: e.data } as VmEvent);
    fleet.vms.set(vmId, {
      state,
      revision: e.revision,
      createdAt: before?.createdAt ?? e.metadata.at,
      updatedAt: e.metadata.at,
      firstPosition: before?.firstPosition ?? e.position,
      operation: operationAfter(before, state, e),
    });
    return;
  }
  const hostId = hostIdOf(recorded.streamId);
  if (hostId && isHostEventType(recorded.type)) {
    const e = upcast(recorded);
    const before = fleet.hosts.get(hostId);
    fleet.hosts.set(hostId, {
      state: evolveHost(
        before?.state ?? initialHostState(),
        { type: e.type, data: e.data } as HostEvent,
        e.metadata.at,
      ),
      revision: e.revision,
      createdAt: before?.createdAt ?? e.metadata.at,
      updatedAt: e.metadata.at,
      firstPosition: before?.firstPosition ?? e.position,
    });
  }
}
