import type { HostCapabilities, Resources } from '../../domain/host/host.events.js';
import { allocationCount } from '../../domain/host/allocations.js';
import { allocated, type HostState } from '../../domain/host/host.state.js';

/** The v1 host shape. */
export interface HostView {
  id: string;
  name: string;
  driver: string;
  uri: string;
  capacity: Resources;
  allocated: Resources;
  labels: Record<string, string>;
  /** `active`, `draining`, or `unreachable` (its worker silent over HOST_DEAD_MS; see `unreachable`). */
  state: string;
  /** Why the host reads unreachable: the last heartbeat heard, how long silent, who noticed; null when heard. */
  unreachable: {
    since: string | null;
    lastHeartbeatAt: string;
    lastHeartbeatBy: string;
    silentMs: number;
    observedBy: string;
  } | null;
  /** Set while the host is fenced (until heard again): the fence, who fenced it and on what evidence. */
  fenced: { fenceId: string; by: string; at: string | null; reason?: string; evidenceKind: 'admin' | 'worker' } | null;
  vms: number;
  capabilities: HostCapabilities | null;
  revision: number;
  createdAt: string;
  updatedAt: string;
}

export function toHostView(
  state: HostState,
  capabilities: HostCapabilities | null,
  revision: bigint | string,
  createdAt: string,
  updatedAt: string,
  /** How many VMs it holds, when the caller has the count (a read-model record keeps no allocations). */
  vms?: number,
): HostView {
  return {
    id: state.id ?? '',
    name: state.name,
    driver: state.driver,
    uri: state.uri,
    capacity: state.capacity,
    allocated: allocated(state),
    labels: state.labels ?? {},
    state: state.fenced ? 'fenced' : state.unreachable ? 'unreachable' : state.state,
    unreachable: state.unreachable ?? null,
    fenced: state.fenced
      ? {
          fenceId: state.fenced.fenceId,
          by: state.fenced.by,
          at: state.fenced.at,
          ...(state.fenced.reason ? { reason: state.fenced.reason } : {}),
          evidenceKind: state.fenced.evidence.kind,
        }
      : null,
    vms: vms ?? allocationCount(state.allocations),
    capabilities,
    revision: Number(revision),
    createdAt,
    updatedAt,
  };
}
