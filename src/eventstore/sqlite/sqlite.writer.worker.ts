/**
 * The SQLite writer thread. better-sqlite3 is synchronous: on the main thread every
 * group commit's fsync (synchronous=FULL) stopped the event loop. Here it stops only
 * this thread: appends posted while a group is being flushed queue in the port and form
 * the next group, so the disk's flush rate, not the event loop, bounds appends.
 *
 * Every append still runs in the group's IMMEDIATE transaction, in its own savepoint
 * with its own expected-revision check (GroupCommit, appendInTransaction). A reply is
 * posted only after the commit returned, so the main thread's reader connection sees
 * what it was told is stored (WAL: a read started after a commit sees it).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { AppendResult } from '../event-store.port.js';
import { appendInTransaction, prepareAppendStatements, WRITE_CHECKPOINT_SQL } from './sqlite.append-tx.js';
import { GroupCommit, settle, type AppendSetArgs, type PendingAppend } from './sqlite.group-commit.js';
import { parseNewEvent } from '../new-events.js';
import {
  toWireError,
  type WriterInit,
  type WriterCall,
  type WriterMessage,
  type WriterReply,
  type WriterRequest,
  type WriterStats,
} from './sqlite.writer-protocol.js';

/** The writer connection's page cache, KiB: SQLite's own default. */
const WRITER_PAGE_CACHE_KIB = 2048;

function openWriter(init: WriterInit): Database.Database {
  // Blocking on a lock is fine here (nothing else runs on this thread): SQLite's own busy handler waits.
  const db = new Database(init.file, { timeout: init.busyTimeoutMs });
  try {
    db.defaultSafeIntegers(true);
    db.pragma('journal_mode = WAL');
    // FULL: an append that returned must survive a power cut; this is the system of record.
    db.pragma('synchronous = FULL');
    // better-sqlite3 builds SQLite with a 16 MB page cache per connection (SQLite's own default is 2 MB). This
    // connection only appends: it writes each new page once and re-reads the B-trees' interior pages, which are
    // small, while the OS page cache holds the file anyway. At 16 MB the cache grew with the log, page by page, into
    // this thread's malloc arena: ~16 MB of RSS gained over the first 16 MB of log (seen in chaos `load` with gdb's
    // malloc_info: memory in use, not fragmentation), which looked like a leak for as long as it lasted.
    db.pragma(`cache_size = -${WRITER_PAGE_CACHE_KIB}`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function serve(port: MessagePort, db: Database.Database): void {
  const send = (m: WriterMessage): void => port.postMessage(m);
  const stmts = prepareAppendStatements(db);
  // An item is a set of streams' appends: one for `append`, several for `appendMany`.
  const tx = db.transaction((set: AppendSetArgs) =>
    set.map(([streamId, batch, expected]) => appendInTransaction(stmts, streamId, batch, expected)),
  );
  // Called inside the group's transaction, `tx` runs as a SAVEPOINT: one item's failure (any stream of a set
  // refused, a constraint, a bug) undoes only that item's rows, every stream of it, and the rest of the group commits.
  const group = db.transaction((items: Array<PendingAppend<AppendSetArgs, AppendResult[]>>) =>
    items.map((it) => settle(() => tx(it.args))),
  );
  const checkpoint = db.prepare(WRITE_CHECKPOINT_SQL);
  const stats: WriterStats = { groups: 0, appends: 0 };
  const gc = new GroupCommit<AppendSetArgs, AppendResult[]>(
    (items) => {
      const settled = group.immediate(items);
      stats.groups++;
      for (const it of items) stats.appends += it.args.length;
      return Promise.resolve(settled);
    },
    (err) => err,
    () => undefined,
  );

  // Replies of one group leave in one message (one wake-up of the main thread, not one per append).
  let replies: WriterReply[] = [];
  let committed = false;
  const reply = (r: WriterReply, isAppend: boolean): void => {
    if (replies.length === 0) queueMicrotask(flushReplies);
    replies.push(r);
    if (r.ok && isAppend) committed = true;
  };
  const flushReplies = (): void => {
    send({ type: 'replies', replies, committed, stats });
    replies = [];
    committed = false;
  };

  const call = (m: WriterCall): void => {
    switch (m.type) {
      case 'append':
      case 'appendMany': {
        const one = m.type === 'append';
        // The text was written by JSON.stringify on the main thread: this is the parse it used to do there.
        let set: AppendSetArgs;
        try {
          set = (one ? [m.args] : m.args).map(([streamId, batch, expected]) => [
            streamId,
            batch.map(parseNewEvent),
            expected,
          ]);
        } catch (err) {
          reply({ seq: m.seq, ok: false, error: toWireError(err) }, true);
          return;
        }
        gc.append(set).then(
          (results: AppendResult[]) => reply({ seq: m.seq, ok: true, value: one ? results[0] : results }, true),
          (err: unknown) => reply({ seq: m.seq, ok: false, error: toWireError(err) }, true),
        );
        return;
      }
      case 'checkpoint':
        try {
          checkpoint.run(m.name, m.position);
          reply({ seq: m.seq, ok: true }, false);
        } catch (err) {
          reply({ seq: m.seq, ok: false, error: toWireError(err) }, false);
        }
        return;
    }
  };

  port.on('message', (m: WriterRequest) => {
    switch (m.type) {
      case 'calls':
        // In the order they were made: the group commit keeps it, so appends commit as they were called.
        for (const c of m.calls) call(c);
        return;
      case 'close':
        // The main thread sends this once every request it made was answered.
        db.close();
        port.close();
        return;
    }
  });
  send({ type: 'ready' });
}

function main(): void {
  if (!parentPort) throw new Error('sqlite.writer.worker runs as a worker thread only');
  let db: Database.Database;
  try {
    db = openWriter(workerData as WriterInit);
  } catch (err) {
    parentPort.postMessage({ type: 'fatal', error: toWireError(err) } satisfies WriterMessage);
    parentPort.close();
    return;
  }
  serve(parentPort, db);
}

main();
