import { OPERATION_KINDS } from '../../domain/vm/vm.types.js';
import { parseExact, parseOneOf, type RawQuery } from '../../http/list-query.js';
import type { OperationListFilter } from '../../projections/list-filters.js';
import type { AnyOperationKind, OperationStatus } from '../../projections/read-model.types.js';

const STATUSES: readonly OperationStatus[] = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];
const KINDS: readonly AnyOperationKind[] = [
  ...OPERATION_KINDS,
  'rebuild',
  'createVolume',
  'resizeVolume',
  'deleteVolume',
];

/** `GET /v1/operations?vmId=&principal=&status=&kind=` (status and kind: comma lists). */
export function parseOperationListFilter(q: {
  vmId?: RawQuery;
  principal?: RawQuery;
  status?: RawQuery;
  kind?: RawQuery;
}): OperationListFilter {
  const vmId = parseExact(q.vmId, 'vmId');
  const principal = parseExact(q.principal, 'principal');
  const statuses = parseOneOf(q.status, 'status', STATUSES);
  const kinds = parseOneOf(q.kind, 'kind', KINDS);
  return {
    ...(vmId ? { vmId } : {}),
    ...(principal ? { principal } : {}),
    ...(statuses ? { statuses } : {}),
    ...(kinds ? { kinds } : {}),
  };
}
