import type { HostState } from '../hosts/host.state.js';
import type { VmState } from '../vms/vm.state.js';
import type { OperationKind } from '../vms/vm.types.js';

export interface VmRecord {
  state: VmState;
  revision: string;
  createdAt: string;
  updatedAt: string;
}

export interface HostRecord {
  state: HostState;
  revision: string;
  createdAt: string;
  updatedAt: string;
}

export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface OperationView {
  id: string;
  kind: OperationKind;
  vmId: string;
  status: OperationStatus;
  error: string | null;
  principal: string;
  createdAt: string;
  updatedAt: string;
  reason?: string;
  progress?: {
    step?: string;
    percent?: number;
    transferredBytes?: number;
    remainingBytes?: number;
    totalBytes?: number;
  };
}
