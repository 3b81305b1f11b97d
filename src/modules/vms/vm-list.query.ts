import { VM_STATES } from '../../domain/vm/vm.types.js';
import { parseBoolean, parseExact, parseOneOf, type RawQuery } from '../../http/list-query.js';
import type { VmListFilter } from '../../projections/list-filters.js';

/** `GET /v1/vms?state=&hostId=&name=&includeDeleted=` (state: a comma list; name: exact). */
export function parseVmListFilter(q: {
  state?: RawQuery;
  hostId?: RawQuery;
  name?: RawQuery;
  includeDeleted?: RawQuery;
}): VmListFilter {
  const states = parseOneOf(q.state, 'state', VM_STATES);
  const hostId = parseExact(q.hostId, 'hostId');
  const name = parseExact(q.name, 'name');
  const includeDeleted = parseBoolean(q.includeDeleted, 'includeDeleted');
  return {
    ...(states ? { states } : {}),
    ...(hostId ? { hostId } : {}),
    ...(name ? { name } : {}),
    ...(includeDeleted ? { includeDeleted } : {}),
  };
}
