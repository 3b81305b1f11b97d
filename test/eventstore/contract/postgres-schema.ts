import pg from 'pg';

/** The skip reason of every PostgreSQL suite when no server is given. */
export const NO_POSTGRES = 'TEST_POSTGRES_URL not set';

/** Drops a PostgreSQL schema a suite made (its own, uniquely named). */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await admin.end();
  }
}
