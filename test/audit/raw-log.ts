/**
 * The store's `events` table as an attacker with database access sees it (better-sqlite3
 * or pg, bypassing the service), for the seal suites: whole-table save and restore,
 * raw edits, moving and inserting rows at chosen positions.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { parsePostgresUrl, pgClientConfig } from '../../src/eventstore/postgres/postgres.event-store.js';
import { insertPostgresRow } from '../support/raw-event-table.js';

export type Row = Record<string, unknown>;

export interface RawLog {
  exec(sql: string, params?: unknown[]): Promise<number>;
  all(): Promise<Row[]>;
  restoreAll(rows: Row[]): Promise<void>;
  /** Exchanges the log positions of two events. */
  swap(idA: string, idB: string): Promise<void>;
  /** Inserts a row right after the event at `position` (later rows move down one where positions are dense). */
  insertAfter(
    position: bigint,
    row: { id: string; streamId: string; revision: number; type: string; data: object; metadata: object },
  ): Promise<void>;
  close(): Promise<void>;
}

export function sqliteLog(file: string): RawLog {
  const db = new Database(file);
  db.defaultSafeIntegers(true);
  const q = (s: string) => s.replace(/\$\d+/g, '?');
  const pos = (id: string) => db.prepare('SELECT position FROM events WHERE id = ?').pluck().get(id) as bigint;
  return {
    async exec(s, params = []) {
      return db.prepare(q(s)).run(...params).changes;
    },
    async all() {
      return db.prepare('SELECT * FROM events ORDER BY position').all() as Row[];
    },
    async restoreAll(rows) {
      db.transaction(() => {
        db.prepare('DELETE FROM events').run();
        const cols = Object.keys(rows[0]!);
        const ins = db.prepare(
          `INSERT INTO events (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})`,
        );
        for (const r of rows) ins.run(r);
      })();
    },
    async swap(a, b) {
      const [pa, pb] = [pos(a), pos(b)];
      db.transaction(() => {
        db.prepare('UPDATE events SET position = -1 WHERE id = ?').run(a);
        db.prepare('UPDATE events SET position = ? WHERE id = ?').run(pa, b);
        db.prepare('UPDATE events SET position = ? WHERE id = ?').run(pb, a);
      })();
    },
    async insertAfter(position, r) {
      db.transaction(() => {
        db.prepare('UPDATE events SET position = -position WHERE position > ?').run(position);
        db.prepare('UPDATE events SET position = -position + 1 WHERE position < 0').run();
        db.prepare(
          'INSERT INTO events (position, id, stream_id, stream_revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ).run(position + 1n, r.id, r.streamId, r.revision, r.type, JSON.stringify(r.data), JSON.stringify(r.metadata));
      })();
    },
    async close() {
      db.close();
    },
  };
}

export async function postgresLog(eventStoreUrl: string): Promise<RawLog> {
  const { connectionString, schema } = parsePostgresUrl(eventStoreUrl);
  const client = new pg.Client(pgClientConfig(connectionString, schema!));
  await client.connect();
  const tx = async (fn: () => Promise<void>) => {
    await client.query('BEGIN');
    try {
      await fn();
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  };
  const row = async (id: string) =>
    (await client.query('SELECT position::text AS p, transaction_id::text AS x FROM events WHERE id = $1', [id]))
      .rows[0] as {
      p: string;
      x: string;
    };
  return {
    async exec(s, params = []) {
      return (await client.query(s, params)).rowCount ?? 0;
    },
    async all() {
      const r = await client.query(
        'SELECT position::text AS position, transaction_id::text AS transaction_id, id, stream_id, stream_revision::text AS stream_revision, type, data, metadata, created_at FROM events ORDER BY position',
      );
      return r.rows as Row[];
    },
    async restoreAll(rows) {
      await tx(async () => {
        await client.query('DELETE FROM events');
        for (const r of rows) await insertPostgresRow(client, r);
      });
    },
    async swap(a, b) {
      const [ra, rb] = [await row(a), await row(b)];
      // The table ties a position to its transaction id: both move together.
      const parked = ((BigInt(ra.x) << 16n) + 65535n).toString();
      await tx(async () => {
        await client.query('UPDATE events SET position = $1 WHERE id = $2', [parked, a]);
        await client.query('UPDATE events SET position = $1, transaction_id = $2::xid8 WHERE id = $3', [ra.p, ra.x, b]);
        await client.query('UPDATE events SET position = $1, transaction_id = $2::xid8 WHERE id = $3', [rb.p, rb.x, a]);
      });
    },
    async insertAfter(position, r) {
      // Positions are (transaction << 16) + index: the slot after a one-event append is free.
      const p = position + 1n;
      await client.query(
        'INSERT INTO events (position, transaction_id, id, stream_id, stream_revision, type, data, metadata) VALUES ($1, $2::xid8, $3, $4, $5, $6, $7, $8)',
        [
          p.toString(),
          (p >> 16n).toString(),
          r.id,
          r.streamId,
          r.revision,
          r.type,
          JSON.stringify(r.data),
          JSON.stringify(r.metadata),
        ],
      );
    },
    async close() {
      await client.end();
    },
  };
}
