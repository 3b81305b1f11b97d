import type { RecordedCommand, RecordedEvent } from '../../eventstore/event-store.port.js';

/** One step back along the causation chain: the event that caused the one before it. */
export interface CauseLink {
  eventId: string;
  type: string;
  revision: number;
  at: string;
  principal: string;
  command: RecordedCommand | null;
}

/** Where a chain starts: a request someone made, an observation a reconciler made, or a cause not in this stream. */
export type Origin =
  | {
      kind: 'request';
      operationId: string;
      principal: string;
      /** The reason the requester gave (events decided later on its behalf do not repeat it). */
      reason: string | null;
      command: RecordedCommand | null;
    }
  | { kind: 'observation'; id: string; principal: string }
  | { kind: 'elsewhere'; causationId: string };

export interface WhyView {
  vmId: string;
  event: { id: string; type: string; revision: number; position: string; at: string; data: Record<string, unknown> };
  /** The command that decided this event (type + fields), as recorded; null on events from before it was. */
  command: RecordedCommand | null;
  principal: string;
  reason: string | null;
  correlationId: string;
  causationId: string;
  /** True when no person asked for this: the chain starts at an observation. */
  automatic: boolean;
  /** What an automatic decision (or placement) acted on, as recorded in the event; null when none was. */
  evidence: unknown;
  /** From this event's cause back to the event that started it all, nearest first. */
  causation: CauseLink[];
  origin: Origin;
}

const MAX_CHAIN = 100;

/**
 * A job queued under `<operationId>.<step>` (by a worker or the placement, and again by the saga on
 * the event named here, under the same id): the event the saga's job would have been caused by.
 */
const NAMED_JOB_CAUSE: Readonly<Record<string, string>> = {
  define: 'VmPlaced',
  migrate: 'VmMigrationTargetPrepared',
  finishIncoming: 'VmMigrationHandedOff',
};
const NAMED_JOB = /^(.+)\.(define|migrate|finishIncoming)$/;

/**
 * The causing event of `causationId`: an event id, a job id (the causing event's id, `.n` for the
 * n-th job it enqueued), or a named job's id (NAMED_JOB_CAUSE). Null when it is not an event of
 * this stream.
 */
function causeIn(byId: Map<string, RecordedEvent>, causationId: string): RecordedEvent | null {
  const direct = byId.get(causationId) ?? byId.get(causationId.replace(/\.\d+$/, ''));
  if (direct) return direct;
  const named = NAMED_JOB.exec(causationId);
  if (!named) return null;
  const [, operationId, step] = named;
  const type = NAMED_JOB_CAUSE[step!];
  let found: RecordedEvent | null = null;
  for (const e of byId.values())
    if (e.type === type && (e.data as { operationId?: unknown }).operationId === operationId) found = e;
  return found;
}

function originOf(last: RecordedEvent): Origin {
  const c = last.metadata.causationId;
  if (c.startsWith('http:'))
    return {
      kind: 'request',
      operationId: c.slice('http:'.length),
      principal: last.metadata.principal,
      reason: last.metadata.reason ?? null,
      command: last.metadata.command ?? null,
    };
  if (c.startsWith('reconcile')) return { kind: 'observation', id: c, principal: last.metadata.principal };
  return { kind: 'elsewhere', causationId: c };
}

/** GET /v1/vms/{id}/why: one event of the VM's (upcast) stream explained from its metadata and its causes. */
export function explain(vmId: string, events: RecordedEvent[], index: number): WhyView {
  const e = events[index]!;
  const byId = new Map(events.slice(0, index).map((x) => [x.id, x]));
  const causation: CauseLink[] = [];
  let last = e;
  for (let cause = causeIn(byId, e.metadata.causationId); cause && causation.length < MAX_CHAIN;) {
    causation.push({
      eventId: cause.id,
      type: cause.type,
      revision: Number(cause.revision),
      at: cause.metadata.at,
      principal: cause.metadata.principal,
      command: cause.metadata.command ?? null,
    });
    last = cause;
    cause = causeIn(byId, cause.metadata.causationId);
  }
  const origin = originOf(last);
  const evidence = (e.data as { evidence?: unknown }).evidence ?? null;
  return {
    vmId,
    event: {
      id: e.id,
      type: e.type,
      revision: Number(e.revision),
      position: e.position.toString(),
      at: e.metadata.at,
      data: e.data,
    },
    command: e.metadata.command ?? null,
    principal: e.metadata.principal,
    reason: e.metadata.reason ?? null,
    correlationId: e.metadata.correlationId,
    causationId: e.metadata.causationId,
    automatic: origin.kind === 'observation',
    evidence,
    causation,
    origin,
  };
}
