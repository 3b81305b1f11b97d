import type { VmStateName } from '../domain/vm/vm.types.js';
import type { AnyOperationKind, OperationStatus, OperationView, VmRecord } from './read-model.types.js';

/** `GET /v1/vms` filters; deleted VMs are hidden unless asked for (or their state is filtered on). */
export interface VmListFilter {
  states?: VmStateName[];
  hostId?: string;
  name?: string;
  includeDeleted?: boolean;
}

export function vmMatches(f: VmListFilter, rec: VmRecord): boolean {
  const s = rec.state;
  if (!s) return false;
  if (f.states) {
    if (!f.states.includes(s.state)) return false;
  } else if (!f.includeDeleted && s.state === 'deleted') return false;
  if (f.hostId !== undefined && s.hostId !== f.hostId) return false;
  if (f.name !== undefined && s.spec?.name !== f.name) return false;
  return true;
}

/** `GET /v1/operations` filters applied while scanning (vmId and principal pick the index). */
export interface OperationListFilter {
  vmId?: string;
  principal?: string;
  statuses?: OperationStatus[];
  kinds?: AnyOperationKind[];
}

export function operationMatches(f: OperationListFilter, op: OperationView): boolean {
  if (f.vmId !== undefined && op.vmId !== f.vmId) return false;
  if (f.principal !== undefined && op.principal !== f.principal) return false;
  if (f.statuses && !f.statuses.includes(op.status)) return false;
  if (f.kinds && !f.kinds.includes(op.kind)) return false;
  return true;
}
