import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { RecordedEvent } from '../../../src/eventstore/event-store.port.js';
import { normalizeNewEvents } from '../../../src/eventstore/new-events.js';
import { appendInTransaction } from '../../../src/eventstore/postgres/postgres.append.js';
import { pgClientConfig, PostgresEventStore } from '../../../src/eventstore/postgres/postgres.event-store.js';
import { uniqueName } from '../../support/env.js';
import { dropSchema, NO_POSTGRES } from './postgres-schema.js';
import { countReads, newEvent, POLLING_READER_PAGE, readAgain, startPollingReader, waitFor } from './support.js';

const mine = (events: RecordedEvent[], prefix: string): RecordedEvent[] =>
  events.filter((e) => e.streamId.startsWith(prefix));

/** A suite that cannot run is registered as one skipped test, so the skip and its reason show in the totals. */
function describeIf(reasonToSkip: string | undefined, name: string, fn: () => void): void {
  if (reasonToSkip) test(name, { skip: reasonToSkip }, () => undefined);
  else describe(name, fn);
}

/**
 * PostgreSQL's global order is gap-safe: a reader never passes a transaction still open (it could
 * commit an earlier position later), and a rolled-back one leaves nothing; migrations apply once.
 */
export function postgresGapSafeSuite(postgresUrl: string | undefined): void {
  describeIf(postgresUrl ? undefined : NO_POSTGRES, 'postgres: global reads are gap-safe', () => {
    const url = postgresUrl ?? '';

    async function withStore(fn: (store: PostgresEventStore, schema: string) => Promise<void>): Promise<void> {
      const schema = uniqueName('vl_gap');
      const store = new PostgresEventStore({ connectionString: url, schema, pollIntervalMs: 100 });
      try {
        await store.init();
        await fn(store, schema);
      } finally {
        await store.close();
        await dropSchema(url, schema);
      }
    }

    /** The subscriptions below read with a page size of their own, so their reads can be counted. */
    const SUB_BATCH = 13;

    /**
     * Both the subscription and the polling reader have looked at the log again (twice: the page of
     * the first look is handled by the time the second begins), so what they have not delivered by
     * now was held back, not merely not yet read.
     */
    function lookAgain(store: PostgresEventStore): () => Promise<void> {
      const subReads = countReads(store, SUB_BATCH);
      const readerReads = countReads(store, POLLING_READER_PAGE);
      return async () => {
        await readAgain(subReads, 'the subscription');
        await readAgain(readerReads, 'the polling reader');
      };
    }

    /** A subscription and a polling reader from the log's head on, and a look-again for both, for streams under a fresh prefix. */
    async function watchLog(store: PostgresEventStore, stem: string) {
      const prefix = uniqueName(stem);
      const head0 = await store.headPosition();
      const delivered: RecordedEvent[] = [];
      const lookedAgain = lookAgain(store);
      const sub = store.subscribeToAll({
        after: head0,
        batchSize: SUB_BATCH,
        onEvent: async (e) => void delivered.push(e),
      });
      const reader = startPollingReader(store, head0, prefix);
      return { prefix, head0, delivered, lookedAgain, sub, reader };
    }

    async function rawClient(schema: string): Promise<pg.Client> {
      const client = new pg.Client(pgClientConfig(url, schema));
      await client.connect();
      return client;
    }

    test('transactions that commit out of order: nothing passes an open one, then all arrive once, in position order', async () => {
      await withStore(async (store, schema) => {
        const { prefix, head0, delivered, lookedAgain, sub, reader } = await watchLog(store, 'ooo');
        const held = await Promise.all([rawClient(schema), rawClient(schema), rawClient(schema)]);
        try {
          // A1, A2, A3 take positions first (their xids are older) but stay uncommitted.
          const a: RecordedEvent[] = [];
          for (const [i, client] of held.entries()) {
            await client.query('BEGIN');
            const r = await appendInTransaction(
              client,
              schema,
              `${prefix}-a${i + 1}`,
              normalizeNewEvents([newEvent(`A${i + 1}`)]),
              'no_stream',
            );
            a.push(...r.events);
          }
          const b = await store.append(`${prefix}-b`, [newEvent('B')], 'no_stream');
          for (const e of a) assert.ok(e.position < b.position, 'an older transaction holds an earlier position');

          await lookedAgain();
          assert.deepEqual(mine(delivered, prefix), [], 'B was delivered while older transactions were open');
          assert.deepEqual(await store.readAll({ after: head0, streamPrefixes: [prefix] }), []);
          assert.equal(await store.headPosition(), head0, 'headPosition moved past an open transaction');

          // Commit in the worst order: the newest open one first.
          const [c1, c2, c3] = held;
          await c3?.query('COMMIT');
          await lookedAgain();
          assert.deepEqual(mine(delivered, prefix), [], 'A3/B delivered while A1 and A2 were open');
          await c1?.query('COMMIT');
          await waitFor(() => mine(delivered, prefix).length === 1, 'A1 once it alone is committed');
          await lookedAgain();
          assert.deepEqual(
            mine(delivered, prefix).map((e) => e.type),
            ['A1'],
            'A3 or B delivered while A2 was still open',
          );
          await c2?.query('COMMIT');
          await waitFor(() => mine(delivered, prefix).length === 4, 'all four events');
          await lookedAgain();
          await sub.stop();
          const seen = await reader.stop();

          const order = ['A1', 'A2', 'A3', 'B'];
          assert.deepEqual(
            mine(delivered, prefix).map((e) => e.type),
            order,
          );
          assert.deepEqual(
            seen.map((e) => e.type),
            order,
            'a polling reader skipped an event committed late',
          );
          for (let i = 1; i < delivered.length; i++) {
            assert.ok((delivered[i - 1]?.position ?? 0n) < (delivered[i]?.position ?? 0n));
          }
        } finally {
          for (const c of held) {
            await c.query('ROLLBACK').catch(() => undefined);
            await c.end();
          }
        }
      });
    });

    test('a rolled-back transaction leaves nothing behind and holds readers back only while open', async () => {
      await withStore(async (store, schema) => {
        const { prefix, delivered, lookedAgain, sub, reader } = await watchLog(store, 'rb');
        const client = await rawClient(schema);
        try {
          await client.query('BEGIN');
          await appendInTransaction(client, schema, `${prefix}-a`, normalizeNewEvents([newEvent('A')]), 'no_stream');
          await store.append(`${prefix}-b`, [newEvent('B')], 'no_stream');
          await lookedAgain();
          assert.deepEqual(mine(delivered, prefix), []);
          await client.query('ROLLBACK');
          await waitFor(() => mine(delivered, prefix).length === 1, 'B after the rollback');
          await lookedAgain();
          await sub.stop();
          assert.deepEqual(
            mine(delivered, prefix).map((e) => e.type),
            ['B'],
          );
          assert.deepEqual(
            (await reader.stop()).map((e) => e.type),
            ['B'],
          );
          await assert.rejects(store.readStream(`${prefix}-a`));
        } finally {
          await client.end();
        }
      });
    });

    test('init() applies each migration once, even from two instances', async () => {
      const schema = uniqueName('vl_mig');
      const one = new PostgresEventStore({ connectionString: url, schema });
      const two = new PostgresEventStore({ connectionString: url, schema });
      const admin = new pg.Client({ connectionString: url });
      try {
        await Promise.all([one.init(), two.init()]);
        await one.init();
        await admin.connect();
        const { rows } = await admin.query(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
        assert.deepEqual(
          rows.map((r: { version: string }) => r.version),
          ['0001_init'],
        );
      } finally {
        await one.close();
        await two.close();
        await admin.end();
        await dropSchema(url, schema);
      }
    });
  });
}
