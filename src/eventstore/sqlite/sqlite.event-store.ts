import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { StreamNotFoundError, UnavailableError } from '../errors.js';
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
import { loadMigrations } from '../migrations.js';
import { newEventsAsJson } from '../new-events.js';
import { startPollingSubscription } from '../polling-subscription.js';
import { SharedTail } from '../shared-tail.js';
import { LOGGED_HASH_COLUMNS, rawRowToRecordedEvent, rowToLoggedHash, toBigInt, toStr } from '../record-codec.js';
import { sleep, WakeSignal } from '../wake-signal.js';
import { isSqliteBusy, mapSqliteError } from './sqlite.errors.js';
import { EVENT_COLUMNS } from './sqlite.append-tx.js';
import type { AppendJsonArgs, WriterStats } from './sqlite.writer-protocol.js';
import { WriterThread } from './sqlite.writer-thread.js';

type Db = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;

export interface SqliteEventStoreOptions {
  /** Absolute path of the database file. */
  file: string;
  /** Total time an operation waits for another connection's lock before UnavailableError. Default 5000. */
  busyTimeoutMs?: number;
  /** How often subscriptions look for appends made by other processes. Default 250. */
  pollIntervalMs?: number;
  /** Subscriptions give up (onError) after the file has been unusable this long. Default 30000. */
  giveUpAfterMs?: number;
  /** Override of the repository's `migrations/` folder. */
  migrationsDir?: string;
}

const MAX_REVISION = 9_223_372_036_854_775_807n;
/**
 * better-sqlite3 is synchronous: its own busy handler would block the event loop for the
 * whole wait. Each attempt waits only this long; longer waits are async retries.
 */
const LOCK_WAIT_PER_ATTEMPT_MS = 25;

interface Statements {
  streamForwards: Statement;
  streamBackwards: Statement;
  streamExists: Statement;
  head: Statement;
  count: Statement;
  countAll: Statement;
  hashesAfter: Statement;
  readCheckpoint: Statement;
  ping: Statement;
}

/**
 * The embedded default. One file, WAL (readers never block the writer), appends in
 * IMMEDIATE transactions (the write lock is taken before the stream's last revision is
 * read, so the expected-state check and the hash chain cannot race another writer, in
 * this process or another one).
 *
 * Duplicate event ids: replaying an append whose ids are already stored at the same place
 * of the same stream is an idempotent success that returns the stored events; any other
 * reuse of an id is a WrongExpectedVersionError (see checkDuplicates).
 */
export class SqliteEventStore implements EventStore {
  readonly kind = 'sqlite' as const;
  /**
   * A replay's pages are small here: a read costs no round trip, and a page is read on the
   * event loop and folded at once, so its events die young. Pages of 5000 (two alive: the
   * next is read before this one folds) outlived the young generation and were copied to the
   * old one: bytes promoted over six `vms` folds of the 49k-event bench log 265 MB at 5000,
   * 83 MB at 1000 and 500. A `vms` rebuild's CPU per event, four interleaved pairs: 13.8,
   * 13.7, 14.9, 14.5 µs at 500; 13.5, 13.2, 13.7, 13.3 µs at 250.
   */
  readonly replayPageSize = 250;
  private db: Db | undefined;
  private stmts: Statements | undefined;
  private writer: WriterThread | undefined;
  private readonly readAllStatements = new Map<string, Statement>();
  private readonly wake = new WakeSignal();
  /** One read of the log's end for every subscription of this store (through readAll, so it is counted as one). */
  private readonly tail = new SharedTail((after, limit) => this.readAll({ after, maxCount: limit }), this.wake);
  private readonly subscriptions = new Set<Subscription>();
  private readonly busyTimeoutMs: number;

  constructor(private readonly options: SqliteEventStoreOptions) {
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
  }

  get file(): string {
    return this.options.file;
  }

  async init(): Promise<void> {
    if (this.db) return;
    const migrations = loadMigrations('sqlite', this.options.migrationsDir);
    try {
      mkdirSync(dirname(this.file), { recursive: true });
    } catch (err) {
      throw new UnavailableError(`SQLite event store ${this.file} unavailable: cannot create its directory`, {
        cause: err,
      });
    }
    const { default: Database } = await import('better-sqlite3');
    const db = await this.withBusyRetry(() => {
      const opened = new Database(this.file, { timeout: LOCK_WAIT_PER_ATTEMPT_MS });
      try {
        opened.defaultSafeIntegers(true);
        opened.pragma('journal_mode = WAL');
        // FULL: an append that returned must survive a power cut; this is the system of record.
        opened.pragma('synchronous = FULL');
        opened
          .transaction(() => {
            opened.exec(
              "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
            );
            const applied = new Set(
              opened
                .prepare('SELECT version FROM schema_migrations')
                .pluck()
                .all()
                .map((v) => toStr(v, 'schema_migrations.version')),
            );
            const record = opened.prepare('INSERT INTO schema_migrations (version) VALUES (?)');
            for (const m of migrations) {
              if (applied.has(m.version)) continue;
              opened.exec(m.sql);
              record.run(m.version);
            }
          })
          .immediate();
        return opened;
      } catch (err) {
        opened.close();
        throw err;
      }
    });
    const writer = new WriterThread({ file: this.file, busyTimeoutMs: this.busyTimeoutMs }, () => this.wake.notify());
    try {
      await writer.start();
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    this.stmts = this.prepareStatements(db);
    this.writer = writer;
  }

  /**
   * Appends are posted to the writer thread (sqlite.writer.worker.ts), which commits
   * the appends that arrived while it was busy in one IMMEDIATE transaction and one
   * fsync (synchronous=FULL stays) off the event loop. Each append keeps its own
   * expected-revision check and fails alone (see GroupCommit). The answer comes after
   * the commit, so this process's reads see the append once it returned.
   */
  async append(streamId: string, events: NewEvent[], expected: ExpectedState): Promise<AppendResult> {
    // Validated here (a bad batch is refused before anything is posted); parsed on the writer thread.
    const batch = newEventsAsJson(events);
    return this.open().writer.append([streamId, batch, expected]);
  }

  /**
   * One item of the writer's group: every stream's append runs in the item's savepoint, so a
   * refusal (or any failure) of one stream undoes the others' rows; the group's one commit
   * (one fsync) stores them all. Subscribers are woken once, for the commit.
   */
  async appendMany(appends: StreamAppend[]): Promise<AppendResult[]> {
    checkStreamAppends(appends);
    const sets = appends.map((a): AppendJsonArgs => [a.streamId, newEventsAsJson(a.events), a.expected]);
    return this.open().writer.appendMany(sets);
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { stmts } = this.open();
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? MAX_REVISION : 0n);
    const limit = options.maxCount === undefined ? -1 : Math.max(0, options.maxCount);
    return this.withBusyRetry(() => {
      const stmt = backwards ? stmts.streamBackwards : stmts.streamForwards;
      const events = stmt.all(streamId, from, limit).map(rawRowToRecordedEvent);
      if (events.length === 0 && options.ifMissing !== 'empty' && stmts.streamExists.get(streamId) === undefined) {
        throw new StreamNotFoundError(streamId);
      }
      return events;
    });
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const { db } = this.open();
    // An empty filter list means "no filter", the same as leaving it out.
    const prefixes = options.streamPrefixes?.length ? options.streamPrefixes : undefined;
    const types = options.types?.length ? options.types : undefined;
    const where = ['position > ?'];
    const params: unknown[] = [options.after ?? 0n];
    if (prefixes) {
      where.push('EXISTS (SELECT 1 FROM json_each(?) p WHERE substr(stream_id, 1, length(p.value)) = p.value)');
      params.push(JSON.stringify(prefixes));
    }
    if (types) {
      where.push('type IN (SELECT value FROM json_each(?))');
      params.push(JSON.stringify(types));
    }
    params.push(options.maxCount === undefined ? -1 : Math.max(0, options.maxCount));
    const sql = `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY position LIMIT ?`;
    let stmt = this.readAllStatements.get(sql);
    if (!stmt) {
      // Rows as arrays (EVENT_COLUMNS' order): see rawRowToRecordedEvent.
      stmt = db.prepare(sql).raw(true);
      this.readAllStatements.set(sql, stmt);
    }
    const prepared = stmt;
    return this.withBusyRetry(() => prepared.all(...params).map(rawRowToRecordedEvent));
  }

  async headPosition(): Promise<bigint | undefined> {
    const { stmts } = this.open();
    const head = await this.withBusyRetry(() => stmts.head.pluck().get());
    return head === null || head === undefined ? undefined : toBigInt(head, 'head position');
  }

  async countEvents(until?: bigint): Promise<number> {
    const { stmts } = this.open();
    const n = await this.withBusyRetry(() =>
      until === undefined ? stmts.countAll.pluck().get() : stmts.count.pluck().get(until),
    );
    return Number(toBigInt(n, 'event count'));
  }

  async readAllHashes(options: { after?: bigint; maxCount: number }): Promise<LoggedHash[]> {
    const { stmts } = this.open();
    const limit = Math.max(0, options.maxCount);
    return this.withBusyRetry(() => stmts.hashesAfter.all(options.after ?? 0n, limit).map(rowToLoggedHash));
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    this.open();
    const sub = startPollingSubscription(
      {
        readPage: (after, limit, seen) => this.tail.readPage(after, limit, seen),
        wake: this.wake,
        pollIntervalMs: this.options.pollIntervalMs ?? 250,
        giveUpAfterMs: this.options.giveUpAfterMs,
      },
      options,
      (finished) => this.subscriptions.delete(finished),
    );
    this.subscriptions.add(sub);
    return sub;
  }

  async readCheckpoint(name: string): Promise<bigint | undefined> {
    const { stmts } = this.open();
    const value = await this.withBusyRetry(() => stmts.readCheckpoint.pluck().get(name));
    return value === undefined || value === null ? undefined : toBigInt(value, `checkpoint ${name}`);
  }

  /** Group transactions (one fsync each) and appends committed by this store's writer thread so far. */
  get writerStats(): WriterStats {
    return this.writer?.stats ?? { groups: 0, appends: 0 };
  }

  /** On the writer thread too: its fsync stays off the event loop, and it never waits for the writer's lock here. */
  async writeCheckpoint(name: string, position: bigint): Promise<void> {
    await this.open().writer.writeCheckpoint(name, position);
  }

  async ping(): Promise<void> {
    if (!this.db || !this.stmts) throw new UnavailableError(`SQLite event store ${this.file} is not open`);
    const stmts = this.stmts;
    await this.withBusyRetry(() => stmts.ping.get());
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    // Appends in flight are answered (stored or refused) before the thread stops.
    const writer = this.writer;
    this.writer = undefined;
    await writer?.close();
    this.db?.close();
    this.db = undefined;
    this.stmts = undefined;
    this.readAllStatements.clear();
    this.tail.clear();
  }

  private prepareStatements(db: Db): Statements {
    return {
      // Event rows as arrays, decoded by rawRowToRecordedEvent.
      streamForwards: db
        .prepare(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND stream_revision >= ? ORDER BY stream_revision ASC LIMIT ?`,
        )
        .raw(true),
      streamBackwards: db
        .prepare(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND stream_revision <= ? ORDER BY stream_revision DESC LIMIT ?`,
        )
        .raw(true),
      streamExists: db.prepare('SELECT 1 FROM events WHERE stream_id = ? LIMIT 1'),
      head: db.prepare('SELECT max(position) FROM events'),
      // A range on the rowid walks the table itself, every row's data and metadata included (on
      // 49k events, 170 ms of each rebuild); `+position` lets SQLite scan a covering index instead.
      count: db.prepare('SELECT count(*) FROM events WHERE +position <= ?'),
      // No condition at all: SQLite counts the entries of its smallest index (2 ms on 49k events).
      countAll: db.prepare('SELECT count(*) FROM events'),
      hashesAfter: db.prepare(
        `SELECT ${LOGGED_HASH_COLUMNS.sqlite} FROM events WHERE position > ? ORDER BY position LIMIT ?`,
      ),
      readCheckpoint: db.prepare('SELECT position FROM checkpoints WHERE name = ?'),
      ping: db.prepare('SELECT 1'),
    };
  }

  private open(): { db: Db; stmts: Statements; writer: WriterThread } {
    if (!this.db || !this.stmts || !this.writer) {
      throw new Error(`SQLite event store ${this.file} is not open: call init() first`);
    }
    return { db: this.db, stmts: this.stmts, writer: this.writer };
  }

  /** Runs a synchronous SQLite call, retrying lock contention asynchronously so the event loop keeps running. */
  private async withBusyRetry<T>(fn: () => T): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    let delayMs = 5;
    for (;;) {
      try {
        return fn();
      } catch (err) {
        const remaining = deadline - Date.now();
        if (isSqliteBusy(err) && remaining > 0) {
          await sleep(Math.min(delayMs, remaining));
          delayMs = Math.min(delayMs * 2, 100);
          continue;
        }
        throw mapSqliteError(err, this.file);
      }
    }
  }
}
