import type { HostCapabilities, Resources } from '../../domain/host/host.events.js';
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
  state: string;
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
): HostView {
  return {
    id: state.id ?? '',
    name: state.name,
    driver: state.driver,
    uri: state.uri,
    capacity: state.capacity,
    allocated: allocated(state),
    labels: state.labels ?? {},
    state: state.state,
    vms: Object.keys(state.allocations).length,
    capabilities,
    revision: Number(revision),
    createdAt,
    updatedAt,
  };
}
