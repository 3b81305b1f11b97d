import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { UnavailableError } from '../../../src/eventstore/errors.js';
import { normalizeNewEvents } from '../../../src/eventstore/new-events.js';
import { appendInTransaction } from '../../../src/eventstore/postgres/postgres.append.js';
import { pgClientConfig, PostgresEventStore } from '../../../src/eventstore/postgres/postgres.event-store.js';
import { SqliteEventStore } from '../../../src/eventstore/sqlite/sqlite.event-store.js';
import { tempDir, uniqueName } from '../../support/env.js';
import { dropSchema, NO_POSTGRES } from './postgres-schema.js';
import { newEvent, waitFor } from './support.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

/** A store that cannot reach its database says so with UnavailableError (and whether a commit's outcome is unknown). */
export function unavailableSuite(postgresUrl: string | undefined): void {
  describe('UnavailableError', () => {
    test('postgres: a closed port gives UnavailableError on init, ping, append and reads', async () => {
      const port = await closedPort();
      const store = new PostgresEventStore({
        connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
        schema: 'vl_unreachable',
        connectTimeoutMs: 2_000,
      });
      try {
        await assert.rejects(store.init(), UnavailableError);
        await assert.rejects(store.ping(), UnavailableError);
        await assert.rejects(store.append('vm-1', [newEvent()], 'any'), UnavailableError);
        await assert.rejects(store.readAll(), UnavailableError);
        await assert.rejects(store.readCheckpoint('x'), UnavailableError);
      } finally {
        await store.close();
      }
    });

    test(
      'postgres: a connection lost during COMMIT is UnavailableError with an unknown outcome, never "nothing recorded"',
      { skip: postgresUrl ? false : NO_POSTGRES },
      async () => {
        const url = postgresUrl ?? '';
        const schema = uniqueName('vl_commit');
        const store = new PostgresEventStore({ connectionString: url, schema });
        const admin = new pg.Client(pgClientConfig(url, schema));
        try {
          await store.init();
          await admin.connect();
          // A deferred constraint trigger runs inside COMMIT: ending its own backend there is a
          // connection lost exactly while the commit is in flight.
          await admin.query(`
            CREATE FUNCTION die_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.stream_id = 'vm-dies-at-commit' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
              RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER die_at_commit AFTER INSERT ON events
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION die_at_commit();`);
          await assert.rejects(store.append('vm-dies-at-commit', [newEvent()], 'no_stream'), (err: unknown) => {
            assert.ok(err instanceof UnavailableError, String(err));
            assert.equal(err.outcomeUnknown, true);
            assert.match(err.message, /during COMMIT/);
            return true;
          });
          // Any other failure keeps outcomeUnknown false, and the store goes on working.
          const r = await store.append('vm-lives', [newEvent()], 'no_stream');
          assert.equal(r.nextExpectedRevision, 0n);
        } finally {
          await admin.end().catch(() => undefined);
          await store.close();
          await dropSchema(url, schema);
        }
      },
    );

    /** A holder transaction keeps the stream's append lock, so the store's append waits inside PostgreSQL. */
    async function withHeldStreamLock(
      body: (h: {
        store: PostgresEventStore;
        holder: pg.Client;
        stream: string;
        lockWaiters: () => Promise<number[]>;
        terminate: (pids: number[]) => Promise<void>;
      }) => Promise<void>,
    ): Promise<void> {
      const url = postgresUrl ?? '';
      const schema = uniqueName('vl_term');
      const applicationName = uniqueName('vlterm');
      const store = new PostgresEventStore({ connectionString: url, schema, applicationName });
      const holder = new pg.Client(pgClientConfig(url, schema));
      const admin = new pg.Client({ connectionString: url });
      const stream = 'vm-terminated';
      try {
        await store.init();
        await holder.connect();
        await admin.connect();
        await holder.query('BEGIN');
        await appendInTransaction(holder, schema, stream, normalizeNewEvents([newEvent()]), 'no_stream');
        await body({
          store,
          holder,
          stream,
          lockWaiters: async () => {
            const { rows } = await admin.query(
              "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
              [applicationName],
            );
            return rows.map((r: { pid: number }) => r.pid);
          },
          terminate: async (pids) => {
            await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
          },
        });
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end().catch(() => undefined);
        await admin.end().catch(() => undefined);
        await store.close();
        await dropSchema(url, schema);
      }
    }

    test(
      'postgres: an append whose connection the server terminates before COMMIT is redone on a fresh connection, and lands once',
      { skip: postgresUrl ? false : NO_POSTGRES },
      async () => {
        await withHeldStreamLock(async ({ store, holder, stream, lockWaiters, terminate }) => {
          const event = newEvent();
          const pending = store.append(stream, [event], 'any');
          let first: number[] = [];
          await waitFor(async () => (first = await lockWaiters()).length > 0, 'the append to wait for the stream lock');
          await terminate(first);
          await waitFor(
            async () => (await lockWaiters()).some((pid) => !first.includes(pid)),
            'the append to wait again on a new connection',
          );
          await holder.query('ROLLBACK');
          const r = await pending;
          assert.equal(r.nextExpectedRevision, 0n);
          const stored = await store.readStream(stream);
          assert.deepEqual(
            stored.map((e) => e.id),
            [event.id],
          );
        });
      },
    );

    test(
      'postgres: an append whose every connection is terminated gives UnavailableError, then the store recovers',
      { skip: postgresUrl ? false : NO_POSTGRES },
      async () => {
        await withHeldStreamLock(async ({ store, holder, stream, lockWaiters, terminate }) => {
          let settled = false;
          const pending = store.append(stream, [newEvent()], 'any');
          void pending.then(
            () => (settled = true),
            () => (settled = true),
          );
          let terminations = 0;
          while (!settled) {
            let waiting: number[] = [];
            await waitFor(
              async () => settled || (waiting = await lockWaiters()).length > 0,
              'the append to wait for the stream lock',
            );
            if (settled) break;
            await terminate(waiting);
            terminations++;
            // Lets the store see the loss before the next look: the same pid may still be listed.
            await waitFor(
              async () => settled || !(await lockWaiters()).some((pid) => waiting.includes(pid)),
              'the terminated backend to leave',
            );
          }
          await assert.rejects(pending, (err: unknown) => {
            assert.ok(err instanceof UnavailableError, String(err));
            assert.match(err.message, /57P01|terminat/i);
            return true;
          });
          assert.ok(terminations >= 2, `the store gave up after ${terminations} termination(s) without retrying`);
          await holder.query('ROLLBACK');
          const r = await store.append(stream, [newEvent()], 'no_stream');
          assert.equal(r.nextExpectedRevision, 0n);
        });
      },
    );

    test('sqlite: a file locked by another exclusive connection gives UnavailableError without blocking the event loop', async () => {
      const { dir, cleanup } = tempDir('vl-es-lock-');
      const file = join(dir, 'events.sqlite3');
      const store = new SqliteEventStore({ file, busyTimeoutMs: 300 });
      const locker = new Database(file);
      try {
        await store.init();
        await store.append('vm-1', [newEvent()], 'no_stream');
        locker.exec('BEGIN EXCLUSIVE');

        let ticks = 0;
        const ticker = setInterval(() => ticks++, 10);
        const started = Date.now();
        await assert.rejects(store.append('vm-1', [newEvent()], 'any'), (err: unknown) => {
          assert.ok(err instanceof UnavailableError, String(err));
          assert.match(err.message, /locked/);
          return true;
        });
        clearInterval(ticker);
        assert.ok(Date.now() - started >= 250, 'gave up before the busy timeout');
        assert.ok(ticks >= 10, `the event loop was blocked while waiting for the lock (${ticks} ticks)`);
        await assert.rejects(store.writeCheckpoint('c', 1n), UnavailableError);
        // WAL: readers do not need the write lock.
        assert.equal((await store.readStream('vm-1')).length, 1);

        locker.exec('ROLLBACK');
        assert.equal((await store.append('vm-1', [newEvent()], 0n)).nextExpectedRevision, 1n);
      } finally {
        if (locker.open) locker.close();
        await store.close();
        cleanup();
      }
    });

    test('sqlite: init() applies each migration once', async () => {
      const { dir, cleanup } = tempDir('vl-es-mig-');
      const file = join(dir, 'nested', 'events.sqlite3');
      const one = new SqliteEventStore({ file });
      const two = new SqliteEventStore({ file });
      try {
        await one.init();
        await two.init();
        await one.init();
        const db = new Database(file, { readonly: true });
        const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
        db.close();
        assert.deepEqual(versions, ['0001_init']);
      } finally {
        await one.close();
        await two.close();
        cleanup();
      }
    });
  });
}
