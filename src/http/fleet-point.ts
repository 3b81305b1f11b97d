import type { FleetHistory, FleetPoint } from '../projections/fleet-history.js';
import type { FleetState } from '../projections/fleet-fold.js';
import { badField } from './as-of.query.js';
import { parseIsoInstant } from './point-in-time.js';

/** OpenAPI description of `at` on the lists and the fleet. */
export const FLEET_AT_DOC =
  'a log position (digits: the state after that event; 400 past the head) or an ISO 8601 time with a zone ' +
  '(the state after every event recorded at or before it; a time in the future is the fleet now)';

const POSITION_RE = /^\d{1,19}$/;

/** `?at=` of GET /v1/vms, /v1/hosts and /v1/fleet: undefined when absent, a 400 naming `at` when malformed. */
export function parseFleetAt(raw: unknown): FleetPoint | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw badField('at', 'must be given once');
  if (POSITION_RE.test(raw)) return { kind: 'position', position: BigInt(raw) };
  const at = parseIsoInstant(raw);
  if (!at)
    throw badField('at', 'must be a log position (digits) or an ISO 8601 time with a zone, e.g. 2024-05-01T12:00:00Z');
  return { kind: 'time', at };
}

/** What an answer at a point says about that point. */
export interface AsOf {
  /** Position of the last VM or host event included (null: none yet). */
  position: string | null;
  /** The time the question named, or the time of that position's event. */
  at: string | null;
}

/** The fleet at `point`; a position past the log's head is a 400 naming `at` (a future time is simply now). */
export async function fleetAt(history: FleetHistory, point: FleetPoint): Promise<{ fleet: FleetState; asOf: AsOf }> {
  if (point.kind === 'position') {
    const head = await history.logHead();
    if (head === undefined ? point.position > 0n : point.position > head)
      throw badField('at', `is past the log's head: position ${point.position} > ${head ?? 'none (empty log)'}`);
  }
  const fleet = await history.at(point);
  return {
    fleet,
    asOf: {
      position: fleet.position === undefined ? null : fleet.position.toString(),
      at: point.kind === 'time' ? point.at.toISOString() : null,
    },
  };
}
