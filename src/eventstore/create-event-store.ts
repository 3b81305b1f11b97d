import { isAbsolute, resolve } from 'node:path';
import type { EventStore } from './event-store.port.js';
import { KURRENT_SCHEMES } from './kurrentdb/kurrentdb.client.js';
import { KurrentDbEventStore } from './kurrentdb/kurrentdb.event-store.js';
import { parsePostgresUrl, PostgresEventStore } from './postgres/postgres.event-store.js';
import { SqliteEventStore } from './sqlite/sqlite.event-store.js';

export const DEFAULT_SQLITE_FILE = 'events.sqlite3';

const ACCEPTED =
  'sqlite:<file> (relative to DATA_DIR; default events.sqlite3), postgres://… or postgresql://… (optional ?schema=), kurrentdb://host[,host…] or kurrentdb+discover://… (a cluster; also kurrent, kdb, esdb)';

/** The SQLite file an `sqlite:` URL names: `sqlite:`, `sqlite:x.db`, `sqlite:/abs/x.db`, `sqlite:///abs/x.db`. */
export function sqliteFileFromUrl(url: string, dataDir: string): string {
  let file = url.slice('sqlite:'.length);
  if (file.startsWith('//')) file = file.slice(2);
  file = decodeURIComponent(file);
  if (file === '') file = DEFAULT_SQLITE_FILE;
  return isAbsolute(file) ? file : resolve(dataDir, file);
}

/** Picks the adapter from EVENTSTORE_URL. The store is not connected until init(). */
export function createEventStore(url: string, opts: { dataDir: string }): EventStore {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite':
      return new SqliteEventStore({ file: sqliteFileFromUrl(url, opts.dataDir) });
    case 'postgres':
    case 'postgresql':
      return new PostgresEventStore(parsePostgresUrl(url));
    default:
      if ((KURRENT_SCHEMES as readonly string[]).includes(scheme ?? '')) {
        return new KurrentDbEventStore({ connectionString: url });
      }
      // Only the scheme is echoed: the URL may carry a password.
      throw new Error(
        `EVENTSTORE_URL: unsupported scheme ${scheme === undefined ? '(none)' : `"${scheme}:"`}; accepted: ${ACCEPTED}`,
      );
  }
}
