/**
 * Calls per create, which the machine's load does not move: Redis commands
 * (INFO commandstats; exact when the bench runs its own redis-server, server-wide
 * otherwise) and PostgreSQL table reads and inserted rows of the run's own schema
 * (pg_stat_user_tables, which the server flushes within about a second).
 */
import type { Redis } from 'ioredis';
import pg from 'pg';
import { parsePostgresUrl } from '../src/eventstore/postgres/postgres.event-store.js';

export type CallCounts = Record<string, number>;

/** Redis commands by name so far. */
export async function redisCommandCounts(redis: Redis): Promise<CallCounts> {
  const info = await redis.info('commandstats');
  const out: CallCounts = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** Index and sequential scans, and rows inserted, over the tables of the store's schema. */
export async function pgSchemaCounts(storeUrl: string): Promise<CallCounts> {
  const { connectionString, schema } = parsePostgresUrl(storeUrl);
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const r = await client.query<{ reads: string; inserts: string }>(
      `SELECT COALESCE(SUM(COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0)), 0) AS reads,
              COALESCE(SUM(n_tup_ins), 0) AS inserts
         FROM pg_stat_user_tables WHERE schemaname = $1`,
      [schema ?? 'virtledger'],
    );
    return { 'pg table scans': Number(r.rows[0]!.reads), 'pg rows inserted': Number(r.rows[0]!.inserts) };
  } finally {
    await client.end();
  }
}

/** after − before per create, the largest first, those under 0.05 per create left out. */
export function perCreate(before: CallCounts, after: CallCounts, n: number): Array<[string, number]> {
  return Object.entries(after)
    .map(([k, v]): [string, number] => [k, (v - (before[k] ?? 0)) / n])
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1]);
}
