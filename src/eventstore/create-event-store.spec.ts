import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createEventStore, sqliteFileFromUrl } from './create-event-store.js';
import { KurrentDbEventStore } from './kurrentdb/kurrentdb.event-store.js';
import { PostgresEventStore } from './postgres/postgres.event-store.js';
import { SqliteEventStore } from './sqlite/sqlite.event-store.js';

describe('createEventStore', () => {
  test('sqlite: relative files live under dataDir, the default file is events.sqlite3, absolute paths are kept', () => {
    assert.equal(sqliteFileFromUrl('sqlite:', '/data'), '/data/events.sqlite3');
    assert.equal(sqliteFileFromUrl('sqlite:ledger.db', '/data'), '/data/ledger.db');
    assert.equal(sqliteFileFromUrl('sqlite:sub/ledger.db', '/data'), '/data/sub/ledger.db');
    assert.equal(sqliteFileFromUrl('sqlite:/var/lib/x.db', '/data'), '/var/lib/x.db');
    assert.equal(sqliteFileFromUrl('sqlite:///var/lib/x.db', '/data'), '/var/lib/x.db');
    const store = createEventStore('sqlite:events.sqlite3', { dataDir: '/data' });
    assert.ok(store instanceof SqliteEventStore);
    assert.equal(store.file, '/data/events.sqlite3');
  });

  test('postgres:// and postgresql:// pick PostgreSQL, ?schema= selects the schema', async () => {
    const a = createEventStore('postgres://u:p@db:5432/ledger?schema=tenant_a', { dataDir: '/data' });
    const b = createEventStore('postgresql://db/ledger', { dataDir: '/data' });
    assert.ok(a instanceof PostgresEventStore && b instanceof PostgresEventStore);
    assert.equal(a.schema, 'tenant_a');
    assert.equal(b.schema, 'virtledger');
    await a.close();
    await b.close();
  });

  test('kurrentdb://, esdb:// and cluster URLs (+discover, several hosts) pick KurrentDB (nothing connects before init)', () => {
    for (const url of [
      'kurrentdb://localhost:2113?tls=false',
      'esdb://localhost:2113?tls=false',
      'kurrentdb+discover://admin:changeit@cluster.example:2113?nodePreference=leader',
      'esdb+discover://cluster.example:2113',
      'kurrentdb://n1:2113,n2:2113,n3:2113?tls=true',
      'kdb+discover://cluster.example',
    ]) {
      assert.equal(createEventStore(url, { dataDir: '/data' }).kind, 'kurrentdb');
      assert.ok(createEventStore(url, { dataDir: '/data' }) instanceof KurrentDbEventStore);
    }
  });

  test('an unknown scheme names EVENTSTORE_URL and the accepted schemes, without echoing credentials', () => {
    for (const url of ['mysql://root:s3cret@db/ledger', 'events.db']) {
      assert.throws(
        () => createEventStore(url, { dataDir: '/data' }),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.match(err.message, /EVENTSTORE_URL/);
          assert.match(err.message, /sqlite:/);
          assert.match(err.message, /postgres:\/\//);
          assert.match(err.message, /kurrentdb:\/\//);
          assert.doesNotMatch(err.message, /s3cret/);
          return true;
        },
      );
    }
  });

  test('an invalid schema name is refused before anything connects', () => {
    assert.throws(() => createEventStore('postgres://db/x?schema=Robert%27);DROP', { dataDir: '/d' }), /schema/);
  });
});
