import type { ClientBase } from 'pg';
import type { AppendResult, ExpectedState, NewEvent, RecordedEvent, StreamAppend } from '../event-store.port.js';
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
  // One round trip for everything the decision needs (the last event, ids already stored, this
  // transaction's position base): after the lock, so it reads what the previous holder committed.
  const ids = batch.map((e) => e.id);
  const facts = await client.query(
    `SELECT last.stream_revision AS last_revision, last.metadata->>'hash' AS hash,
            (SELECT coalesce(json_agg(json_build_object('id', f.id, 'stream_id', f.stream_id,
                                                        'stream_revision', f.stream_revision::text)), '[]'::json)
               FROM events f WHERE f.id = ANY($2::text[])) AS found,
            x.xid::text AS xid,
            (SELECT max(position) FROM events
              WHERE position >= (x.xid::text::bigint << ${POSITION_SHIFT})
                AND position < ((x.xid::text::bigint + 1) << ${POSITION_SHIFT})) AS last_in_tx
       FROM (SELECT pg_current_xact_id() AS xid) x
       LEFT JOIN LATERAL (SELECT stream_revision, metadata FROM events WHERE stream_id = $1
                          ORDER BY stream_revision DESC LIMIT 1) last ON true`,
    [streamId, ids],
  );
  const row = facts.rows[0] as Record<string, unknown>;
  const lastRow = row.last_revision === null ? undefined : row;
  const lastRevision = lastRow === undefined ? undefined : toBigInt(lastRow.last_revision, 'stream_revision');
  const stored = (row.found as Array<Record<string, unknown>>).map((r) => ({
    id: toStr(r.id, 'id'),
    streamId: toStr(r.stream_id, 'stream_id'),
    revision: toBigInt(r.stream_revision, 'stream_revision'),
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

  const base = toBigInt(row.xid, 'xid') << POSITION_SHIFT;
  const firstIndex = row.last_in_tx === null ? 0n : toBigInt(row.last_in_tx, 'position') - base + 1n;
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
  // The insert and the wake-up hint (delivered at COMMIT only, for other processes' subscriptions) in one statement.
  await client.query(
    `WITH inserted AS (
       INSERT INTO events (position, transaction_id, id, stream_id, stream_revision, type, data, metadata)
       SELECT e.position, pg_current_xact_id(), e.id, $1, e.revision, e.type, e.data, e.metadata
         FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::jsonb[], $7::jsonb[])
           AS e(position, id, revision, type, data, metadata)
       RETURNING 1)
     SELECT pg_notify($8, $1), (SELECT count(*) FROM inserted) AS n`,
    [
      streamId,
      events.map((e) => e.position.toString()),
      events.map((e) => e.id),
      events.map((e) => e.revision.toString()),
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.data)),
      events.map((e) => JSON.stringify(e.metadata)),
      notifyChannel(schema),
    ],
  );
  return toAppendResult(events);
}

/**
 * Several streams' appends inside one transaction the caller opened (appendMany): each
 * checked and chained as appendInTransaction does, positions in the order given, all
 * committed or rolled back together. The streams' locks are taken first, in sorted
 * order: two sets over the same streams then wait for each other instead of each
 * holding one lock and deadlocking on the other (a single append holds one lock only).
 * appendInTransaction takes its stream's lock again, which a transaction already holding it gets at once.
 */
export async function appendManyInTransaction(
  client: ClientBase,
  schema: string,
  appends: readonly StreamAppend[],
): Promise<AppendResult[]> {
  const keys = appends.map((a) => `${schema}:${a.streamId}`).sort();
  // A function scan returns the array's elements in order, and each row's lock is taken as it is produced.
  await client.query('SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest($1::text[]) AS k', [keys]);
  const results: AppendResult[] = [];
  for (const a of appends) results.push(await appendInTransaction(client, schema, a.streamId, a.events, a.expected));
  return results;
}

function hashOf(row: Record<string, unknown>): string {
  return toStr(row.hash, 'metadata.hash');
}
