import { Worker } from 'node:worker_threads';
import { UnavailableError } from '../errors.js';
import type { AppendResult } from '../event-store.port.js';
import {
  fromWireError,
  type AppendJsonArgs,
  type WriterCall,
  type WriterInit,
  type WriterMessage,
  type WriterReply,
  type WriterRequest,
  type WriterStats,
} from './sqlite.writer-protocol.js';

interface Waiter {
  resolve: (value: AppendResult | AppendResult[] | undefined) => void;
  reject: (err: unknown) => void;
  done: Promise<unknown>;
}

const WORKER_URL = new URL('./sqlite.writer.worker.js', import.meta.url);

/**
 * The main thread's handle on the SQLite writer thread (sqlite.writer.worker.ts): posts
 * appends and checkpoint writes, answers each caller when its reply comes back, and
 * wakes subscriptions after a commit.
 *
 * A writer thread that dies (a native crash, an out-of-memory, a bug) fails every request
 * in flight with an UnavailableError marked outcomeUnknown — its transaction may have
 * committed before the answer was lost; repeating the append with the same event ids is
 * safe (an idempotent replay) — and the next write starts a new thread. The service keeps
 * serving reads meanwhile, as it does when the file is locked, instead of exiting.
 */
export class WriterThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Waiter>();
  private seq = 0;
  /** Calls made in this turn of the event loop, posted together at its end (flushCalls). */
  private outbox: WriterCall[] = [];
  private closed = false;
  /** Set by a `fatal` message (the thread could not open the file): the error its requests get. */
  private fatal: unknown;
  private exited: Promise<void> = Promise.resolve();
  /** Counts of the current thread plus those of threads before it (a respawn starts from zero). */
  private statsBefore: WriterStats = { groups: 0, appends: 0 };
  private statsNow: WriterStats = { groups: 0, appends: 0 };

  constructor(
    private readonly init: WriterInit,
    private readonly onCommitted: () => void,
  ) {}

  /** Starts the thread and waits until it opened the file, so that init() reports a file it cannot write. */
  async start(): Promise<void> {
    const worker = this.spawn();
    await new Promise<void>((resolve, reject) => {
      let crash: unknown;
      const onMessage = (m: WriterMessage): void => {
        if (m.type === 'ready') done(resolve);
        if (m.type === 'fatal') done(() => reject(fromWireError(m.error, this.init.file)));
      };
      const onError = (err: unknown): void => {
        crash = err;
      };
      const onExit = (code: number): void =>
        done(() =>
          reject(
            this.stopped(
              crash instanceof Error
                ? `crashed while opening the file: ${crash.message}`
                : `exited with code ${code} while opening the file`,
              crash,
            ),
          ),
        );
      const done = (settleStart: () => void): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        settleStart();
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    // Idle, the thread does not keep the process alive (see request()).
    if (this.pending.size === 0) worker.unref();
  }

  append(args: AppendJsonArgs): Promise<AppendResult> {
    return this.request((seq) => ({ type: 'append', seq, args })) as Promise<AppendResult>;
  }

  /** Several streams' appends committed together or not at all (one savepoint in the writer's group). */
  appendMany(args: AppendJsonArgs[]): Promise<AppendResult[]> {
    return this.request((seq) => ({ type: 'appendMany', seq, args })) as Promise<AppendResult[]>;
  }

  async writeCheckpoint(name: string, position: bigint): Promise<void> {
    await this.request((seq) => ({ type: 'checkpoint', seq, name, position }));
  }

  /** Waits for every request in flight to be answered (none is dropped), then stops the thread. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending.values()].map((w) => w.done));
    const worker = this.worker;
    if (worker) {
      worker.ref();
      worker.postMessage({ type: 'close' } satisfies WriterRequest);
    }
    await this.exited;
  }

  /** Stops the thread abruptly, as a crash would: for tests of what callers then see. */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  private request(make: (seq: number) => WriterCall): Promise<AppendResult | AppendResult[] | undefined> {
    if (this.closed) return Promise.reject(new Error(`SQLite event store ${this.init.file} is closed`));
    const worker = this.worker ?? this.spawn();
    const seq = ++this.seq;
    let resolve!: Waiter['resolve'];
    let reject!: Waiter['reject'];
    const done = new Promise<AppendResult | AppendResult[] | undefined>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.pending.set(seq, { resolve, reject, done: done.catch(() => undefined) });
    // While something is in flight the thread keeps the process alive; idle, it does not.
    if (this.pending.size === 1) worker.ref();
    // setImmediate, not a microtask: the calls of every request handled in this I/O phase share one
    // message (the writer thread groups what arrives while it commits anyway; this saves a post each).
    if (this.outbox.length === 0) setImmediate(() => this.flushCalls());
    this.outbox.push(make(seq));
    return done;
  }

  private flushCalls(): void {
    // A call already failed (its thread died before the post) is not sent again: its caller was told.
    const calls = this.outbox.filter((c) => this.pending.has(c.seq));
    this.outbox = [];
    if (calls.length === 0) return;
    const worker = this.worker ?? this.spawn();
    worker.ref();
    worker.postMessage({ type: 'calls', calls } satisfies WriterRequest);
  }

  /** Group transactions (one fsync each) and the appends they carried, since start(). */
  get stats(): WriterStats {
    return {
      groups: this.statsBefore.groups + this.statsNow.groups,
      appends: this.statsBefore.appends + this.statsNow.appends,
    };
  }

  private spawn(): Worker {
    this.fatal = undefined;
    this.statsBefore = this.stats;
    this.statsNow = { groups: 0, appends: 0 };
    const worker = new Worker(WORKER_URL, { workerData: this.init, name: 'sqlite-writer' });
    this.worker = worker;
    let crash: unknown;
    worker.on('message', (m: WriterMessage) => {
      if (m.type === 'replies') {
        this.statsNow = m.stats;
        this.settle(m.replies, m.committed);
      } else if (m.type === 'fatal') this.fatal = fromWireError(m.error, this.init.file);
    });
    worker.on('error', (err) => (crash = err));
    this.exited = new Promise<void>((resolve) =>
      worker.once('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        const reason =
          this.fatal ??
          this.stopped(crash instanceof Error ? `crashed: ${crash.message}` : `exited with code ${code}`, crash);
        for (const [seq, w] of this.pending) {
          this.pending.delete(seq);
          w.reject(reason);
        }
        resolve();
      }),
    );
    return worker;
  }

  private settle(replies: WriterReply[], committed: boolean): void {
    // Subscribers are woken before the callers resume, as on one thread: both see the commit.
    if (committed) this.onCommitted();
    for (const r of replies) {
      const w = this.pending.get(r.seq);
      if (!w) continue;
      this.pending.delete(r.seq);
      if (r.ok) w.resolve(r.value);
      else w.reject(fromWireError(r.error, this.init.file));
    }
    if (this.pending.size === 0 && !this.closed) this.worker?.unref();
  }

  private stopped(how: string, cause?: unknown): UnavailableError {
    return new UnavailableError(
      `SQLite event store ${this.init.file} unavailable: its writer thread ${how}; ` +
        'a write in flight may or may not have been stored (repeating an append with the same event ids is safe)',
      { cause, outcomeUnknown: true },
    );
  }
}
