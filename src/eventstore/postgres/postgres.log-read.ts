import pg from 'pg';
import { VISIBLE_HORIZON_SQL } from './postgres.append.js';

/**
 * SQL for one page of the log in position order: the rows after a position that match
 * `conditions`, at most `limit` of them, cut at the visible horizon.
 *
 * The horizon is applied to the page, not inside it. As one more bound of the index
 * scan, `position < <expression>` has no value at planning time and PostgreSQL guesses
 * that the range holds 0.5 % of the table: without fresh statistics (a log just written,
 * autovacuum not yet round) it then picks a bitmap scan of every later row and a sort,
 * so each page of a rebuild read and sorted the whole rest of the log (a 49k-event log:
 * 226 ms for the first page of 5000, 25 ms as an ordered index scan). Without that bound
 * the page is the first `limit` rows in position order, which an index scan stops at.
 *
 * Same rows as the horizon inside: every row at or above the horizon sorts after every
 * row below it, so the visible rows are a prefix of the ordered rows and the first
 * `limit` ordered rows cut at the horizon are the first `limit` visible ones. Both are
 * read under the statement's one snapshot.
 */
export function logPageSql(columns: string, conditions: string[], limit: string): string {
  return `SELECT * FROM (SELECT ${columns} FROM events WHERE ${conditions.join(' AND ')} ORDER BY position LIMIT ${limit}) page
    WHERE position < ${VISIBLE_HORIZON_SQL} ORDER BY position`;
}

const INT8 = 20;

/**
 * Type parsers for the log's pages: `bigint` columns (position, stream_revision) become
 * BigInt as they are parsed, instead of a decimal string that the decoder then checked and
 * converted (one string per column and row less). Every other type as node-postgres parses
 * it (jsonb: JSON.parse). Per query, so the pool's other queries (counts, checkpoints) keep
 * node-postgres' strings.
 */
export const LOG_ROW_TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8 && format !== 'binary') return BigInt;
    return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
  },
};
