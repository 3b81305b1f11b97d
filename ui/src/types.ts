/** The shapes the console reads (a subset of the v1 contract). */
export interface Resources {
  vcpus: number;
  memoryMiB: number;
}

export interface Host {
  id: string;
  name: string;
  driver: string;
  state: string;
  capacity: Resources;
  allocated: Resources;
}

export interface Vm {
  id: string;
  name: string;
  state: string;
  hostId: string | null;
  hostName?: string | null;
  vcpus: number;
  memoryMiB: number;
  revision?: number;
  /** Each NIC's network and its allocated MAC and IP. */
  nics?: { networkId: string; mac: string; ip: string }[];
  [field: string]: unknown;
}

export interface Operation {
  id: string;
  kind: string;
  status: string;
  error?: string | null;
  principal?: string;
  createdAt: string;
}

export interface LoggedEvent {
  position: string;
  revision: number;
  type: string;
  metadata: { at?: string; principal?: string };
}

export interface FieldChange {
  path: string;
  old: unknown;
  new: unknown;
  /** The event that made the last change to this field within the range. */
  event?: { revision: number; type: string; principal: string; at: string };
}

export interface Accepted {
  operationId: string;
  vmId: string;
}

export interface QueueCounts {
  hostId: string;
  hostName: string;
  waiting?: number;
  active?: number;
  delayed?: number;
  failed?: number;
  stalledRedeliveries?: number;
}

export interface FailedJob {
  id: string;
  step: string;
  operationId: string | null;
  vmId: string | null;
  error: string;
  attempts: number;
  stalled: number;
  failedAt: string | null;
}
