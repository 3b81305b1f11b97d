import type BetterSqlite3 from 'better-sqlite3';
import type { AppendResult, ExpectedState, NewEvent, RecordedEvent } from '../event-store.port.js';
import { assertExpected, checkDuplicates, type StoredEventId } from '../expected-state.js';
import { chainEvents, GENESIS_HASH } from '../hash-chain.js';
import { rowToRecordedEvent, toAppendResult, toBigInt, toEventMetadata, toStr } from '../record-codec.js';

type Db = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;

/** In this order: the readers take rows as arrays (rawRowToRecordedEvent reads them by index). */
export const EVENT_COLUMNS = 'position, id, stream_id, stream_revision, type, data, metadata';

export const WRITE_CHECKPOINT_SQL = `INSERT INTO checkpoints (name, position, updated_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`;

/** The statements an append needs: prepared once on the connection that writes. */
export interface AppendStatements {
  lastOfStream: Statement;
  findIds: Statement;
  insert: Statement;
  streamFrom: Statement;
}

export function prepareAppendStatements(db: Db): AppendStatements {
  return {
    lastOfStream: db.prepare(
      'SELECT stream_revision, metadata FROM events WHERE stream_id = ? ORDER BY stream_revision DESC LIMIT 1',
    ),
    findIds: db.prepare(
      'SELECT id, stream_id, stream_revision FROM events WHERE id IN (SELECT value FROM json_each(?))',
    ),
    insert: db.prepare(
      'INSERT INTO events (id, stream_id, stream_revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    streamFrom: db.prepare(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND stream_revision >= ? ORDER BY stream_revision LIMIT ?`,
    ),
  };
}

/**
 * One append, run inside a transaction that already holds the write lock (IMMEDIATE),
 * so the expected-state check and the hash chain cannot race another writer.
 * Duplicate event ids: replaying an append whose ids are already stored at the same
 * place of the same stream returns the stored events (see checkDuplicates).
 */
export function appendInTransaction(
  stmts: AppendStatements,
  streamId: string,
  batch: NewEvent[],
  expected: ExpectedState,
): AppendResult {
  const last = stmts.lastOfStream.get(streamId) as Record<string, unknown> | undefined;
  const lastRevision = last === undefined ? undefined : toBigInt(last.stream_revision, 'stream_revision');
  const stored: StoredEventId[] = stmts.findIds.all(JSON.stringify(batch.map((e) => e.id))).map((row) => {
    const r = row as Record<string, unknown>;
    return {
      id: toStr(r.id, 'id'),
      streamId: toStr(r.stream_id, 'stream_id'),
      revision: toBigInt(r.stream_revision, 'stream_revision'),
    };
  });
  const duplicate = checkDuplicates(streamId, batch, stored, expected, lastRevision);
  if (duplicate.kind === 'replay') {
    const events = stmts.streamFrom.all(streamId, duplicate.fromRevision, batch.length).map(rowToRecordedEvent);
    return toAppendResult(events);
  }
  assertExpected(streamId, expected, lastRevision);
  const prevHash = last === undefined ? GENESIS_HASH : toEventMetadata(last.metadata, streamId).hash;
  const events = chainEvents(streamId, batch, lastRevision ?? -1n, prevHash).map((e): RecordedEvent => {
    const info = stmts.insert.run(
      e.id,
      streamId,
      e.revision,
      e.type,
      JSON.stringify(e.data),
      JSON.stringify(e.metadata),
    );
    return { ...e, streamId, position: toBigInt(info.lastInsertRowid, 'rowid') };
  });
  return toAppendResult(events);
}
