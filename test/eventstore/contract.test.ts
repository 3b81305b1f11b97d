import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import pg from 'pg';
import { UnavailableError } from '../../src/eventstore/errors.js';
import type { RecordedEvent } from '../../src/eventstore/event-store.port.js';
import { KurrentDbEventStore } from '../../src/eventstore/kurrentdb/kurrentdb.event-store.js';
import { StubKurrentClient } from '../support/kurrentdb.stub-client.js';
import { normalizeNewEvents } from '../../src/eventstore/new-events.js';
import { appendInTransaction } from '../../src/eventstore/postgres/postgres.append.js';
import { pgClientConfig, PostgresEventStore } from '../../src/eventstore/postgres/postgres.event-store.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import { tempDir, testPostgresUrl, uniqueName } from '../support/env.js';
import {
  type ContractTarget,
  countReads,
  eventStoreContract,
  newEvent,
  POLLING_READER_PAGE,
  readAgain,
  startPollingReader,
  waitFor,
} from './event-store.contract.js';
import { fanOutContract } from './fan-out.contract.js';
import { multiAppendContract } from './multi-append.contract.js';

const postgresUrl = testPostgresUrl();

/**
 * The store contract, then the fan-out contract (several subscriptions of one store) and the
 * appendMany contract (several streams in one commit), each on a store of its own.
 */
function fanOutAndStoreContract(target: ContractTarget): void {
  eventStoreContract(target);
  fanOutContract(target);
  multiAppendContract(target);
}
const kurrentUrl = process.env.KURRENTDB_URL;
const NO_POSTGRES = 'TEST_POSTGRES_URL not set';

// ---------------------------------------------------------------- SQLite (always)

{
  let dir: { dir: string; cleanup: () => void } | undefined;
  const file = (): string => join(dir?.dir ?? '.', 'events.sqlite3');
  fanOutAndStoreContract({
    name: 'sqlite',
    uniqueEventIds: true,
    sharedLog: false,
    async open() {
      dir = tempDir('vl-es-sqlite-');
      const store = new SqliteEventStore({ file: file() });
      await store.init();
      return store;
    },
    async openSecond() {
      // A second connection with its own in-process wake-up: only polling can make it see the first one.
      const store = new SqliteEventStore({ file: file() });
      await store.init();
      return store;
    },
    async destroy() {
      dir?.cleanup();
    },
  });
}

// ---------------------------------------------------------------- PostgreSQL (TEST_POSTGRES_URL)

async function dropSchema(url: string, schema: string): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await admin.end();
  }
}

{
  const schema = uniqueName('vl_es');
  fanOutAndStoreContract({
    name: 'postgres',
    ...(postgresUrl ? {} : { skip: NO_POSTGRES }),
    uniqueEventIds: true,
    sharedLog: false,
    async open() {
      const store = new PostgresEventStore({ connectionString: postgresUrl ?? '', schema });
      await store.init();
      return store;
    },
    async openSecond() {
      const store = new PostgresEventStore({ connectionString: postgresUrl ?? '', schema });
      await store.init();
      return store;
    },
    async destroy() {
      if (postgresUrl) await dropSchema(postgresUrl, schema);
    },
  });
}

// ---------------------------------------------------------------- KurrentDB (KURRENTDB_URL), and the adapter against a stub

fanOutAndStoreContract({
  name: 'kurrentdb',
  ...(kurrentUrl ? {} : { skip: 'KURRENTDB_URL not set (no KurrentDB server can run on this machine)' }),
  uniqueEventIds: false,
  sharedLog: true,
  async open() {
    const store = new KurrentDbEventStore({ connectionString: kurrentUrl ?? '' });
    await store.init();
    return store;
  },
  async openSecond() {
    const store = new KurrentDbEventStore({ connectionString: kurrentUrl ?? '' });
    await store.init();
    return store;
  },
});

{
  const stub = new StubKurrentClient();
  fanOutAndStoreContract({
    name: 'kurrentdb adapter (stubbed KurrentDB client: no server can run here)',
    uniqueEventIds: false,
    sharedLog: false,
    async open() {
      const store = new KurrentDbEventStore({ client: stub, readPageSize: 5 });
      await store.init();
      // Server-written system events must be filtered out of everything the port returns.
      stub.writeSystemEvent();
      stub.writeSystemEvent('$projections-$all');
      return store;
    },
    async openSecond() {
      const store = new KurrentDbEventStore({ client: stub, readPageSize: 5 });
      await store.init();
      return store;
    },
  });
}

// ---------------------------------------------------------------- PostgreSQL: gap-safe global order

const mine = (events: RecordedEvent[], prefix: string): RecordedEvent[] =>
  events.filter((e) => e.streamId.startsWith(prefix));

/** A suite that cannot run is registered as one skipped test, so the skip and its reason show in the totals. */
function describeIf(reasonToSkip: string | undefined, name: string, fn: () => void): void {
  if (reasonToSkip) test(name, { skip: reasonToSkip }, () => undefined);
  else describe(name, fn);
}

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

  async function rawClient(schema: string): Promise<pg.Client> {
    const client = new pg.Client(pgClientConfig(url, schema));
    await client.connect();
    return client;
  }

  test('transactions that commit out of order: nothing passes an open one, then all arrive once, in position order', async () => {
    await withStore(async (store, schema) => {
      const prefix = uniqueName('ooo');
      const head0 = await store.headPosition();
      const delivered: RecordedEvent[] = [];
      const lookedAgain = lookAgain(store);
      const sub = store.subscribeToAll({
        after: head0,
        batchSize: SUB_BATCH,
        onEvent: async (e) => void delivered.push(e),
      });
      const reader = startPollingReader(store, head0, prefix);
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
      const prefix = uniqueName('rb');
      const head0 = await store.headPosition();
      const delivered: RecordedEvent[] = [];
      const lookedAgain = lookAgain(store);
      const sub = store.subscribeToAll({
        after: head0,
        batchSize: SUB_BATCH,
        onEvent: async (e) => void delivered.push(e),
      });
      const reader = startPollingReader(store, head0, prefix);
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

// ---------------------------------------------------------------- Unavailable

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

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
