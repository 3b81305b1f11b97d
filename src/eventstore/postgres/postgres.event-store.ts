import pg from 'pg';
import { StreamNotFoundError, UnavailableError, WrongExpectedVersionError } from '../errors.js';
import type {
  AppendResult,
  EventStore,
  ExpectedState,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  LoggedHash,
  RecordedEvent,
  StreamAppend,
  SubscribeOptions,
  Subscription,
} from '../event-store.port.js';
import { checkStreamAppends } from '../stream-appends.js';
import { describeActual, describeExpected } from '../expected-state.js';
import { loadMigrations } from '../migrations.js';
import { normalizeNewEvents } from '../new-events.js';
import { startPollingSubscription } from '../polling-subscription.js';
import { SharedTail } from '../shared-tail.js';
import {
  LOGGED_HASH_COLUMNS,
  rawRowToLoggedHash,
  rawRowToRecordedEvent,
  rowToRecordedEvent,
  toBigInt,
  toStr,
} from '../record-codec.js';
import { WakeSignal } from '../wake-signal.js';
import {
  appendInTransaction,
  appendManyInTransaction,
  EVENT_COLUMNS,
  notifyChannel,
  VISIBLE_HORIZON_SQL,
} from './postgres.append.js';
import { LOG_ROW_TYPES, logPageSql } from './postgres.log-read.js';
import { isConnectionError, isUniqueViolation, mapPgError } from './postgres.errors.js';
import { PgNotificationListener } from './postgres.wakeups.js';

export interface PostgresEventStoreOptions {
  connectionString: string;
  /** Schema holding the store's tables; created at init(). Lowercase letters, digits, `_`. Default `virtledger`. */
  schema?: string;
  poolSize?: number;
  connectTimeoutMs?: number;
  /** Reported in pg_stat_activity. Default `virtledger`. */
  applicationName?: string;
  /** How often subscriptions poll when no NOTIFY arrives. Default 500. */
  pollIntervalMs?: number;
  /** Subscriptions give up (onError) after the database has been unreachable this long. Default 30000. */
  giveUpAfterMs?: number;
  migrationsDir?: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,52}$/;
/** Conflicts are retried in a fresh transaction, which then either replays idempotently or reports the real state. */
const MAX_APPEND_ATTEMPTS = 5;
/** Connections tried for one transaction when they die before COMMIT (server restart, terminated backends). */
const MAX_CONNECTION_ATTEMPTS = 3;

/** Splits `?schema=` off a postgres URL: node-postgres would otherwise pass it to the server. */
export function parsePostgresUrl(url: string): { connectionString: string; schema?: string } {
  const u = new URL(url);
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { connectionString: u.toString(), ...(schema ? { schema } : {}) };
}

/** Connection settings with the store's schema first on the search_path (also used by tests that need a raw client). */
export function pgClientConfig(
  connectionString: string,
  schema: string,
  connectTimeoutMs = 10_000,
  applicationName = 'virtledger',
): pg.ClientConfig {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name "${schema}": use lowercase letters, digits and _ (max 53)`);
  }
  return {
    connectionString,
    options: `-c search_path=${schema}`,
    connectionTimeoutMillis: connectTimeoutMs,
    keepAlive: true,
    application_name: applicationName,
  };
}

/**
 * PostgreSQL adapter. Concurrency: UNIQUE(stream_id, stream_revision), a violation is a
 * WrongExpectedVersionError. Global order: see postgres.append.ts — positions derive from
 * the writing transaction's xid8 and reads stop below pg_snapshot_xmin, so a reader never
 * passes a position and later finds an event committed before it. The price: one long
 * transaction anywhere in the cluster holding an xid delays global reads (not appends or
 * stream reads) until it ends.
 *
 * Duplicate event ids: same rule as SQLite (idempotent replay at the same place, else
 * WrongExpectedVersionError).
 */
export class PostgresEventStore implements EventStore {
  readonly kind = 'postgres' as const;
  /**
   * A replay's pages (rebuild, replay check): 1000 events, not the default 5000. A page is
   * held while it folds and the next one is read meanwhile, so with 5000 two pages (~10 MB of
   * events) were alive at each scavenge and copied to the old generation: the read's events
   * outlived the young one. Bytes copied by scavenges (survived + promoted), the log of 49k
   * events read five times with nothing done: 310–313 MB at 5000, 22–26 MB at 1000; the
   * process of three warmed `vms` rebuilds (live catch-up included): 636–651 MB → 482–483 MB
   * (500: 455–461 MB). The read-ahead of one page still hides the round trip: a `vms` fold
   * of 1000 events takes longer (~15–25 ms) than a raw read of them (~10 ms at 100k/s).
   */
  readonly replayPageSize = 1000;
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly clientConfig: pg.ClientConfig;
  private readonly wake = new WakeSignal();
  /** One read of the log's end for every subscription of this store (through readAll, so it is counted as one). */
  private readonly tail = new SharedTail((after, limit) => this.readAll({ after, maxCount: limit }), this.wake);
  private readonly listener: PgNotificationListener;
  private readonly subscriptions = new Set<Subscription>();
  private initialized: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: PostgresEventStoreOptions) {
    this.schema = options.schema ?? 'virtledger';
    this.clientConfig = pgClientConfig(
      options.connectionString,
      this.schema,
      options.connectTimeoutMs,
      options.applicationName,
    );
    this.pool = new pg.Pool({ ...this.clientConfig, max: options.poolSize ?? 10 });
    // An idle client dying (server restart) must not crash the process; the next query reconnects.
    this.pool.on('error', () => undefined);
    this.listener = new PgNotificationListener(this.clientConfig, notifyChannel(this.schema), this.wake);
  }

  init(): Promise<void> {
    this.initialized ??= this.migrate().catch((err: unknown) => {
      this.initialized = undefined;
      throw mapPgError(err, 'init');
    });
    return this.initialized;
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedState): Promise<AppendResult> {
    const batch = normalizeNewEvents(events);
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.inTransaction((client) =>
          appendInTransaction(client, this.schema, streamId, batch, expected),
        );
        this.wake.notify();
        return result;
      } catch (err) {
        if (!isUniqueViolation(err)) throw mapPgError(err, 'append');
        if (attempt >= MAX_APPEND_ATTEMPTS) {
          const last = await this.lastRevision(streamId);
          throw new WrongExpectedVersionError(streamId, describeExpected(expected), describeActual(last));
        }
      }
    }
  }

  /** One transaction (one commit) for every stream of the set; see appendManyInTransaction. */
  async appendMany(appends: StreamAppend[]): Promise<AppendResult[]> {
    checkStreamAppends(appends);
    const sets = appends.map((a) => ({ ...a, events: normalizeNewEvents(a.events) }));
    for (let attempt = 1; ; attempt++) {
      try {
        const results = await this.inTransaction((client) => appendManyInTransaction(client, this.schema, sets));
        this.wake.notify();
        return results;
      } catch (err) {
        if (!isUniqueViolation(err)) throw mapPgError(err, 'append');
        if (attempt >= MAX_APPEND_ATTEMPTS) {
          // The violation does not say which stream lost the race: the set's first stream is named.
          const first = sets[0]!;
          throw new WrongExpectedVersionError(
            first.streamId,
            describeExpected(first.expected),
            describeActual(await this.lastRevision(first.streamId)),
          );
        }
      }
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const params: unknown[] = [streamId, options.maxCount === undefined ? null : Math.max(0, options.maxCount)];
    let bound = '';
    if (options.fromRevision !== undefined) {
      params.push(options.fromRevision.toString());
      bound = backwards ? 'AND stream_revision <= $3' : 'AND stream_revision >= $3';
    }
    const { rows } = await this.query(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = $1 ${bound}
        ORDER BY stream_revision ${backwards ? 'DESC' : 'ASC'} LIMIT $2`,
      params,
      'readStream',
    );
    if (rows.length === 0 && options.ifMissing !== 'empty') {
      const exists = await this.query('SELECT 1 FROM events WHERE stream_id = $1 LIMIT 1', [streamId], 'readStream');
      if (exists.rows.length === 0) throw new StreamNotFoundError(streamId);
    }
    return rows.map(rowToRecordedEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const params: unknown[] = [(options.after ?? -1n).toString()];
    const where = ['position > $1'];
    // An empty filter list means "no filter", the same as leaving it out.
    if (options.streamPrefixes?.length) {
      params.push(options.streamPrefixes);
      where.push(`EXISTS (SELECT 1 FROM unnest($${params.length}::text[]) p WHERE starts_with(stream_id, p))`);
    }
    if (options.types?.length) {
      params.push(options.types);
      where.push(`type = ANY($${params.length}::text[])`);
    }
    params.push(options.maxCount === undefined ? null : Math.max(0, options.maxCount));
    const rows = await this.queryArrays(logPageSql(EVENT_COLUMNS, where, `$${params.length}`), params, 'readAll');
    return rows.map(rawRowToRecordedEvent);
  }

  async readAllHashes(options: { after?: bigint; maxCount: number }): Promise<LoggedHash[]> {
    const rows = await this.queryArrays(
      logPageSql(LOGGED_HASH_COLUMNS.postgres, ['position > $1'], '$2'),
      [(options.after ?? -1n).toString(), Math.max(0, options.maxCount)],
      'readAllHashes',
    );
    return rows.map(rawRowToLoggedHash);
  }

  async headPosition(): Promise<bigint | undefined> {
    const { rows } = await this.query(
      `SELECT position FROM events WHERE position < ${VISIBLE_HORIZON_SQL} ORDER BY position DESC LIMIT 1`,
      [],
      'headPosition',
    );
    const row = rows[0] as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toBigInt(row.position, 'position');
  }

  async countEvents(until?: bigint): Promise<number> {
    // Only what readers may see yet: a transaction still in flight below the horizon is not counted.
    const { rows } = await this.query(
      `SELECT count(*) AS n FROM events WHERE position < ${VISIBLE_HORIZON_SQL}${until === undefined ? '' : ' AND position <= $1'}`,
      until === undefined ? [] : [until.toString()],
      'countEvents',
    );
    return Number(toBigInt((rows[0] as Record<string, unknown>).n, 'event count'));
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    if (this.closed) throw new Error('PostgreSQL event store is closed');
    this.listener.ensureStarted();
    const sub = startPollingSubscription(
      {
        readPage: (after, limit, seen) => this.tail.readPage(after, limit, seen),
        wake: this.wake,
        pollIntervalMs: this.options.pollIntervalMs ?? 500,
        giveUpAfterMs: this.options.giveUpAfterMs,
      },
      options,
      (finished) => this.subscriptions.delete(finished),
    );
    this.subscriptions.add(sub);
    return sub;
  }

  async readCheckpoint(name: string): Promise<bigint | undefined> {
    const { rows } = await this.query('SELECT position FROM checkpoints WHERE name = $1', [name], 'readCheckpoint');
    const row = rows[0] as Record<string, unknown> | undefined;
    return row === undefined ? undefined : toBigInt(row.position, 'checkpoint');
  }

  async writeCheckpoint(name: string, position: bigint): Promise<void> {
    await this.query(
      `INSERT INTO checkpoints (name, position, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
      [name, position.toString()],
      'writeCheckpoint',
    );
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1', [], 'ping');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    await this.listener.close();
    await this.pool.end();
  }

  private async query(sql: string, params: unknown[], where: string): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (err) {
      throw mapPgError(err, where);
    }
  }

  /**
   * A page of the log, each row an array of its columns in the query's order and its bigint
   * columns as BigInt (LOG_ROW_TYPES). A row object costs node-postgres a copy of a template
   * object and one store by name per column; read as arrays, a replay's read of the log
   * allocates less per event (see rawRowToRecordedEvent).
   */
  private async queryArrays(sql: string, params: unknown[], where: string): Promise<unknown[][]> {
    try {
      const result = await this.pool.query<unknown[]>({
        text: sql,
        values: params,
        rowMode: 'array',
        types: LOG_ROW_TYPES,
      });
      return result.rows;
    } catch (err) {
      throw mapPgError(err, where);
    }
  }

  private async lastRevision(streamId: string): Promise<bigint | undefined> {
    const { rows } = await this.query(
      'SELECT max(stream_revision) AS last FROM events WHERE stream_id = $1',
      [streamId],
      'append',
    );
    const last: unknown = (rows[0] as Record<string, unknown> | undefined)?.last;
    return last === null || last === undefined ? undefined : toBigInt(last, 'stream_revision');
  }

  /** BEGIN … COMMIT on one pooled client; a broken connection is discarded, not returned to the pool. */
  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      let committing = false;
      // A checked-out client whose connection dies between two queries emits 'error' with no pool
      // listener attached: unhandled, that kills the process (found cutting PostgreSQL under load).
      const onError = (err: Error) => (broken ??= err);
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(client);
        committing = true;
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (isConnectionError(err)) broken = err instanceof Error ? err : new Error(String(err));
        else await client.query('ROLLBACK').catch(() => undefined);
        // Until COMMIT is sent a lost connection means PostgreSQL rolled the transaction back: the
        // work is redone on another connection. A pooled one that died while idle fails at BEGIN,
        // and one terminated just after it (pg_terminate_backend only signals) at its first query.
        if (broken && !committing && attempt < MAX_CONNECTION_ATTEMPTS) continue;
        if (broken && committing) {
          throw new UnavailableError(
            `PostgreSQL connection lost during COMMIT (${err instanceof Error ? err.message : String(err)}): the write may or may not have landed`,
            { cause: err, outcomeUnknown: true },
          );
        }
        throw err;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    }
  }

  private async migrate(): Promise<void> {
    const migrations = loadMigrations('postgres', this.options.migrationsDir);
    await this.inTransaction(async (client) => {
      // Two processes starting together must not both create the schema or apply a file twice.
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `virtledger-migrate:${this.schema}`,
      ]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.schema}.schema_migrations (
           version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const applied = await client.query(`SELECT version FROM ${this.schema}.schema_migrations`);
      const done = new Set(applied.rows.map((r: Record<string, unknown>) => toStr(r.version, 'version')));
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await client.query(m.sql);
        await client.query(`INSERT INTO ${this.schema}.schema_migrations (version) VALUES ($1)`, [m.version]);
      }
    });
  }
}
