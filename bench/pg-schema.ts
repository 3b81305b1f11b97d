/**
 * A bench section that seeds a PostgreSQL store of its own (`--store postgres://…?schema=…`)
 * must not leave that schema behind on the server: each run would leave one more
 * (the sections name theirs after the process id). The schema is dropped at the end
 * only when the section created it, never a schema that was there before the run.
 */
import pg from 'pg';
import { parsePostgresUrl } from '../src/eventstore/postgres/postgres.event-store.js';

/** The store's default schema when the URL names none (PostgresEventStoreOptions.schema). */
const DEFAULT_SCHEMA = 'virtledger';
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,52}$/;

async function withClient<T>(connectionString: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Drops a store's schema (`?schema=` of a postgres URL) and everything in it. */
export async function dropSchema(url: string): Promise<void> {
  const { connectionString, schema } = parsePostgresUrl(url);
  if (!schema || !SCHEMA_NAME.test(schema)) return;
  await withClient(connectionString, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
}

/**
 * Call before the store is created; the function it returns drops the store's
 * schema if it did not exist yet (a no-op for any other store).
 */
export async function dropSchemaIfCreated(storeUrl: string | undefined): Promise<() => Promise<void>> {
  if (!storeUrl || !/^postgres(ql)?:/.test(storeUrl)) return () => Promise.resolve();
  const { connectionString, schema = DEFAULT_SCHEMA } = parsePostgresUrl(storeUrl);
  const existed = await withClient(connectionString, async (c) => {
    const found = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    return found.rowCount !== 0;
  });
  if (existed || !SCHEMA_NAME.test(schema)) return () => Promise.resolve();
  return () => withClient(connectionString, (c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)).then(() => {});
}
