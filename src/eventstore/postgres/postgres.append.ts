import type { ClientBase } from 'pg';
import type { AppendResult, ExpectedState, NewEvent, RecordedEvent } from '../event-store.port.js';
import { assertExpected, checkDuplicates } from '../expected-state.js';
import { chainEvents, GENESIS_HASH } from '../hash-chain.js';
import { rowToRecordedEvent, toAppendResult, toBigInt, toStr } from '../record-codec.js';

/**
 * position = (xid8 of the writing transaction << 16) + index of the event within that
 * transaction. Positions therefore sort in (transaction id, index) order, which is what
 * makes `position < pg_snapshot_xmin << 16` a gap-safe read horizon.
 */
export const POSITION_SHIFT = 16n;
export const MAX_EVENTS_PER_TRANSACTION = 1 << Number(POSITION_SHIFT);

export const EVENT_COLUMNS = 'position, id, stream_id, stream_revision, type, data, metadata';

/**
 * SQL for the highest position every reader may see now: everything below the oldest
 * running transaction's id is committed or rolled back for good, and every row still to
 * be committed belongs to a transaction at or above it, so it sorts after.
 */
export const VISIBLE_HORIZON_SQL = `(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << ${POSITION_SHIFT})`;

export function notifyChannel(schema: string): string {
  return `vl_events_${schema}`;
}

/**
 * Appends inside a transaction the caller has opened (BEGIN) and will COMMIT. The
 * adapter wraps it; tests call it directly to hold a transaction open on purpose.
 */
export async function appendInTransaction(
  client: ClientBase,
  schema: string,
  streamId: string,
  batch: NewEvent[],
  expected: ExpectedState,
): Promise<AppendResult> {
  // Serialises appends to one stream so `any` appends chain without retry storms; the
  // UNIQUE(stream_id, stream_revision) constraint stays the real guard.
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${schema}:${streamId}`]);
  const last = await client.query(
    "SELECT stream_revision, metadata->>'hash' AS hash FROM events WHERE stream_id = $1 ORDER BY stream_revision DESC LIMIT 1",
    [streamId],
  );
  const lastRow = last.rows[0] as Record<string, unknown> | undefined;
  const lastRevision = lastRow === undefined ? undefined : toBigInt(lastRow.stream_revision, 'stream_revision');

  const ids = batch.map((e) => e.id);
  const found = await client.query('SELECT id, stream_id, stream_revision FROM events WHERE id = ANY($1::text[])', [
    ids,
  ]);
  const stored = found.rows.map((row: Record<string, unknown>) => ({
    id: toStr(row.id, 'id'),
    streamId: toStr(row.stream_id, 'stream_id'),
    revision: toBigInt(row.stream_revision, 'stream_revision'),
  }));
  const duplicate = checkDuplicates(streamId, batch, stored, expected, lastRevision);
  if (duplicate.kind === 'replay') {
    const replay = await client.query(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_revision >= $2 ORDER BY stream_revision LIMIT $3`,
      [streamId, duplicate.fromRevision.toString(), batch.length],
    );
    return toAppendResult(replay.rows.map(rowToRecordedEvent));
  }
  assertExpected(streamId, expected, lastRevision);

  const tx = await client.query(
    `SELECT x.xid::text AS xid,
            (SELECT max(position) FROM events
              WHERE position >= (x.xid::text::bigint << ${POSITION_SHIFT})
                AND position < ((x.xid::text::bigint + 1) << ${POSITION_SHIFT})) AS last_in_tx
       FROM (SELECT pg_current_xact_id() AS xid) x`,
  );
  const txRow = tx.rows[0] as Record<string, unknown>;
  const base = toBigInt(txRow.xid, 'xid') << POSITION_SHIFT;
  const firstIndex = txRow.last_in_tx === null ? 0n : toBigInt(txRow.last_in_tx, 'position') - base + 1n;
  if (firstIndex + BigInt(batch.length) > BigInt(MAX_EVENTS_PER_TRANSACTION)) {
    throw new RangeError(`at most ${MAX_EVENTS_PER_TRANSACTION} events fit in one PostgreSQL transaction`);
  }

  const chained = chainEvents(
    streamId,
    batch,
    lastRevision ?? -1n,
    lastRow === undefined ? GENESIS_HASH : hashOf(lastRow),
  );
  const events: RecordedEvent[] = chained.map((e, i) => ({ ...e, streamId, position: base + firstIndex + BigInt(i) }));
  await client.query(
    `INSERT INTO events (position, transaction_id, id, stream_id, stream_revision, type, data, metadata)
     SELECT e.position, pg_current_xact_id(), e.id, $1, e.revision, e.type, e.data, e.metadata
       FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::jsonb[], $7::jsonb[])
         AS e(position, id, revision, type, data, metadata)`,
    [
      streamId,
      events.map((e) => e.position.toString()),
      events.map((e) => e.id),
      events.map((e) => e.revision.toString()),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.data)),
      events.map((e) => JSON.stringify(e.metadata)),
    ],
  );
  // Delivered at COMMIT only; a wake-up hint for other processes' subscriptions.
  await client.query('SELECT pg_notify($1, $2)', [notifyChannel(schema), streamId]);
  return toAppendResult(events);
}

function hashOf(row: Record<string, unknown>): string {
  return toStr(row.hash, 'metadata.hash');
}
