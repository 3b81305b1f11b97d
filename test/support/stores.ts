import pg from 'pg';
import { testPostgresUrl } from './env.js';

/** The stores an e2e suite runs on: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set (CI sets it). */
export const STORES = [
  { store: 'sqlite' as const, skip: false as const },
  { store: 'postgres' as const, skip: testPostgresUrl() ? (false as const) : 'TEST_POSTGRES_URL not set' },
];

/** Drops the schema a postgres test app created (no-op for other stores). */
export async function dropSchemaOf(eventStoreUrl: string): Promise<void> {
  if (!eventStoreUrl.startsWith('postgres')) return;
  const u = new URL(eventStoreUrl);
  const schema = u.searchParams.get('schema');
  if (!schema || !/^[a-z0-9_]+$/.test(schema)) return;
  u.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: u.toString() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
