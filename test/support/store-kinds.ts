import pg from 'pg';
import { parsePostgresUrl } from '../../src/eventstore/postgres/postgres.event-store.js';
import { startTestApp, type TestApp } from './app.js';
import { testPostgresUrl } from './env.js';

export type StoreKind = 'sqlite' | 'postgres';

/** The stores a suite runs against: SQLite always, PostgreSQL when TEST_POSTGRES_URL is set. */
export const STORE_KINDS: Array<{ store: StoreKind; skip: string | false }> = [
  { store: 'sqlite', skip: false },
  { store: 'postgres', skip: testPostgresUrl() ? false : 'TEST_POSTGRES_URL not set' },
];

/** Drops the schema a PostgreSQL test app wrote to (its event store URL names it). */
export async function dropPostgresSchema(eventStoreUrl: string): Promise<void> {
  if (!eventStoreUrl.startsWith('postgres')) return;
  const { connectionString, schema } = parsePostgresUrl(eventStoreUrl);
  if (!schema || !/^[a-z0-9_]+$/.test(schema)) return;
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** A test app on `store`, and its full cleanup (Redis keys, temp dir, PostgreSQL schema). */
export async function startAppOn(store: StoreKind): Promise<{ t: TestApp; close: () => Promise<void> }> {
  const t = await startTestApp({ store });
  return {
    t,
    close: async () => {
      await t.close();
      await dropPostgresSchema(t.eventStoreUrl);
    },
  };
}
