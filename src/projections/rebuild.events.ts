/**
 * The audit trail of projection rebuilds: one stream per read model
 * (`projection-<name>`), so who rebuilt what, when, and with which result is
 * in the log like any other operation.
 */
export const projectionStream = (name: string): string => `projection-${name}`;

export function projectionOf(streamId: string): string | undefined {
  return streamId.startsWith('projection-') ? streamId.slice('projection-'.length) : undefined;
}

export type RebuildEvent =
  | { type: 'ProjectionRebuildStarted'; data: { operationId: string; projection: string } }
  | {
      type: 'ProjectionRebuildSucceeded';
      data: { operationId: string; projection: string; events: number; position: string };
    }
  | { type: 'ProjectionRebuildFailed'; data: { operationId: string; projection: string; reason: string } };

export type RebuildEventType = RebuildEvent['type'];

const TYPES: ReadonlySet<string> = new Set<RebuildEventType>([
  'ProjectionRebuildStarted',
  'ProjectionRebuildSucceeded',
  'ProjectionRebuildFailed',
]);

export function isRebuildEventType(type: string): type is RebuildEventType {
  return TYPES.has(type);
}

/** The rebuild left open in a stream (started, never closed): its process died holding it. */
export function openRebuild(
  events: ReadonlyArray<{ type: string; data: Record<string, unknown> }>,
): string | undefined {
  let open: string | undefined;
  for (const e of events) {
    if (e.type === 'ProjectionRebuildStarted') open = String(e.data.operationId);
    else if (isRebuildEventType(e.type) && e.data.operationId === open) open = undefined;
  }
  return open;
}
