import Database from 'better-sqlite3';
import pg from 'pg';
import { parsePostgresUrl, pgClientConfig } from '../../src/eventstore/postgres/postgres.event-store.js';

/** Raw access to the store's `events` table, the way an attacker with the database would write. */
export interface RawTable {
  exec(sql: string, params?: unknown[]): Promise<number>;
  rows(streamId: string): Promise<Array<Record<string, unknown>>>;
  /** Puts rows saved by rows() back exactly (same positions). */
  restore(streamId: string, rows: Array<Record<string, unknown>>): Promise<void>;
  /** SQL for the position of a newly inserted row. */
  readonly newPosition: string;
  readonly newPositionColumns: string;
  close(): Promise<void>;
}

/** Puts back one PostgreSQL `events` row as read (`SELECT *`), position and transaction id included. */
export async function insertPostgresRow(client: pg.Client, r: Record<string, unknown>): Promise<void> {
  await client.query(
    'INSERT INTO events (position, transaction_id, id, stream_id, stream_revision, type, data, metadata, created_at) VALUES ($1, $2::xid8, $3, $4, $5, $6, $7, $8, $9)',
    [
      r.position,
      r.transaction_id,
      r.id,
      r.stream_id,
      r.stream_revision,
      r.type,
      JSON.stringify(r.data),
      JSON.stringify(r.metadata),
      r.created_at,
    ],
  );
}

export function sqliteTable(file: string): RawTable {
  const db = new Database(file);
  const sql = (s: string) => s.replace(/\$\d+/g, '?');
  return {
    newPosition: '',
    newPositionColumns: '',
    async exec(s, params = []) {
      return db.prepare(sql(s)).run(...params).changes;
    },
    async rows(streamId) {
      return db.prepare('SELECT * FROM events WHERE stream_id = ? ORDER BY position').all(streamId) as Array<
        Record<string, unknown>
      >;
    },
    async restore(streamId, rows) {
      db.transaction(() => {
        db.prepare('DELETE FROM events WHERE stream_id = ?').run(streamId);
        const ins = db.prepare(
          'INSERT INTO events (position, id, stream_id, stream_revision, type, data, metadata, created_at) VALUES (@position, @id, @stream_id, @stream_revision, @type, @data, @metadata, @created_at)',
        );
        for (const r of rows) ins.run(r);
      })();
    },
    async close() {
      db.close();
    },
  };
}

export async function pgTable(eventStoreUrl: string): Promise<RawTable> {
  const { connectionString, schema } = parsePostgresUrl(eventStoreUrl);
  const client = new pg.Client(pgClientConfig(connectionString, schema!));
  await client.connect();
  return {
    // The table's CHECK ties a position to the writing transaction, as the adapter does.
    newPosition: ', (pg_current_xact_id()::text::bigint << 16), pg_current_xact_id()',
    newPositionColumns: ', position, transaction_id',
    async exec(s, params = []) {
      return (await client.query(s, params)).rowCount ?? 0;
    },
    async rows(streamId) {
      const r = await client.query(
        'SELECT position, transaction_id::text AS transaction_id, id, stream_id, stream_revision, type, data, metadata, created_at FROM events WHERE stream_id = $1 ORDER BY position',
        [streamId],
      );
      return r.rows as Array<Record<string, unknown>>;
    },
    async restore(streamId, rows) {
      await client.query('BEGIN');
      try {
        await client.query('DELETE FROM events WHERE stream_id = $1', [streamId]);
        for (const r of rows) await insertPostgresRow(client, r);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    },
    async close() {
      await client.end();
    },
  };
}
