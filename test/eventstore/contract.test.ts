import { join } from 'node:path';
import { KurrentDbEventStore } from '../../src/eventstore/kurrentdb/kurrentdb.event-store.js';
import { PostgresEventStore } from '../../src/eventstore/postgres/postgres.event-store.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import { tempDir, testPostgresUrl, uniqueName } from '../support/env.js';
import { StubKurrentClient } from '../support/kurrentdb.stub-client.js';
import { eventStoreContract } from './contract/event-store.contract.js';
import { fanOutContract } from './contract/fan-out.contract.js';
import { multiAppendContract } from './contract/multi-append.contract.js';
import { postgresGapSafeSuite } from './contract/postgres-gap-safe.suite.js';
import { dropSchema, NO_POSTGRES } from './contract/postgres-schema.js';
import type { ContractTarget } from './contract/support.js';
import { unavailableSuite } from './contract/unavailable.suite.js';

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

postgresGapSafeSuite(postgresUrl);

// ---------------------------------------------------------------- Unavailable

unavailableSuite(postgresUrl);
