import type { HostState } from '../domain/host/host.state.js';
import type { ImageState } from '../domain/image/image.state.js';
import type { VmState } from '../domain/vm/vm.state.js';
import type { OperationKind } from '../domain/vm/vm.types.js';

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

export interface ImageRecord {
  state: ImageState;
  revision: string;
  createdAt: string;
  updatedAt: string;
}

export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** `rebuild`: a read model rebuilt from the log (`POST /v1/projections/{name}/rebuild`); it has no VM. */
export type AnyOperationKind = OperationKind | 'rebuild';

export interface OperationView {
  id: string;
  kind: AnyOperationKind;
  vmId: string | null;
  /** The read model a `rebuild` operation rebuilds. */
  projection?: string;
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
    /** rebuild: events replayed so far / events to replay. */
    done?: number;
    total?: number;
  };
}
