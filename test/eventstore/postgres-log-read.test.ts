import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pgClientConfig, PostgresEventStore } from '../../src/eventstore/postgres/postgres.event-store.js';
import { testPostgresUrl, uniqueName } from '../support/env.js';
import { newEvent } from './contract/support.js';

const postgresUrl = testPostgresUrl();
const LOG = 3000;
const PAGE = 100;

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

/** Rows the plan took from the `events` table, summed over its scans of it. */
function rowsFromEvents(node: PlanNode): number {
  const own = node['Relation Name'] === 'events' ? node['Actual Rows'] * node['Actual Loops'] : 0;
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsFromEvents(child), 0);
}

describe('postgres: a page of the log reads that page, not the rest of the log', { skip: !postgresUrl }, () => {
  // A log just written has no planner statistics yet (autovacuum has not come round): the
  // rebuild after a restore or a bench's seeded log. PostgreSQL must still stop at the page.
  test('readAll and readAllHashes on a fresh log take one page of rows from the table per page', async () => {
    const url = postgresUrl ?? '';
    const schema = uniqueName('vl_page');
    const store = new PostgresEventStore({ connectionString: url, schema });
    const pool = Reflect.get(store, 'pool') as pg.Pool;
    const sent: { text: string; values: unknown[] }[] = [];
    const admin = new pg.Client(pgClientConfig(url, schema));
    try {
      await store.init();
      for (let i = 0; i < LOG / 500; i++)
        await store.append(
          `page-${i}`,
          Array.from({ length: 500 }, () => newEvent('Paged', { i })),
          'any',
        );
      // The store's queries as sent, whether as text and values or as one query config (its log pages).
      const query = pool.query.bind(pool) as (
        q: string | pg.QueryConfig,
        values?: unknown[],
      ) => Promise<pg.QueryResult>;
      Reflect.set(pool, 'query', (q: string | pg.QueryConfig, values?: unknown[]) => {
        if (typeof q === 'string') sent.push({ text: q, values: values ?? [] });
        else sent.push({ text: q.text, values: (q.values as unknown[] | undefined) ?? [] });
        return query(q, values);
      });
      const first = await store.readAll({ maxCount: PAGE });
      const middle = await store.readAll({ after: first[first.length - 1]!.position, maxCount: PAGE });
      const hashes = await store.readAllHashes({ maxCount: PAGE });
      assert.deepEqual(
        [first.length, middle.length, hashes.length],
        [PAGE, PAGE, PAGE],
        'every read returned a full page',
      );
      assert.equal(sent.length, 3);

      await admin.connect();
      for (const { text, values } of sent) {
        const { rows } = await admin.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
        const plan = (rows[0] as { 'QUERY PLAN': { Plan: PlanNode }[] })['QUERY PLAN'][0]!.Plan;
        assert.ok(
          rowsFromEvents(plan) <= PAGE,
          `a page of ${PAGE} took ${rowsFromEvents(plan)} rows of the ${LOG}-event log:\n${text}`,
        );
      }
    } finally {
      await admin.end().catch(() => undefined);
      await store.close();
      const drop = new pg.Client({ connectionString: url });
      await drop.connect();
      await drop.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await drop.end();
    }
  });
});
