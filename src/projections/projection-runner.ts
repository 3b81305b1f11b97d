import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isPoison, type ParkedItem } from '../domain/parked.js';
import type { EventStore, RecordedEvent, Subscription } from '../eventstore/event-store.port.js';
import { ParkingLot } from './parking-lot.js';
import type { Projection } from './projection.js';
import type { ReadModelKeys } from './read-model.keys.js';
import { LiveTx } from './live-tx.js';
import { RecordCache } from './record-cache.js';
import type { CommitFence } from './redis-projection-tx.js';
import { StreamRevisions } from './stream-revisions.js';

/** Events per MULTI when the runner is behind (a burst, a restart); live it gets what has arrived. */
const PAGE_SIZE = 500;

/**
 * Runs one projection from its checkpoint (kept in Redis, written in the same
 * MULTI as the data). A missing checkpoint means "build from the start"; an
 * epoch key that vanishes while running means Redis was wiped under us, and
 * the projection restarts from position 0 under a new epoch, which the other
 * processes projecting the same read model then follow. An event the
 * projection cannot apply (a poison event) is parked and skipped.
 */
export class ProjectionRunner extends EventEmitter {
  private sub: Subscription | undefined;
  private epoch = '';
  private watchdog: NodeJS.Timeout | undefined;
  private stopping = false;
  private closed = false;
  /** What this runner committed, so a page's reads rarely go to Redis. */
  private readonly cache = new RecordCache();
  /** Per stream, the last revision applied: read-your-writes waits for its own stream only. */
  readonly streams = new StreamRevisions();
  position: bigint | undefined;
  /**
   * Set when several processes may run this runner in turn (the control-plane
   * lease): each page commits only while the fence holds; undefined = not the owner now.
   */
  fence: (() => CommitFence | undefined) | undefined;

  constructor(
    readonly projection: Projection,
    private readonly store: EventStore,
    private readonly redis: Redis,
    private readonly keys: ReadModelKeys,
    private readonly log: Logger,
    private readonly parking = new ParkingLot(store, `projection-${projection.name}`),
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** Events this read model skipped because it could not apply them (they stay unapplied): /metrics, /health. */
  get parked(): number {
    return this.parking.count;
  }

  get lastParked(): ParkedItem | undefined {
    return this.parking.last;
  }

  async start(): Promise<void> {
    if (this.closed) return;
    this.stopping = false;
    // The count is for /health; the store being slow to answer must not keep the read model from starting (park() loads too).
    await this.parking
      .load()
      .catch((err: unknown) =>
        this.log.warn({ err, projection: this.projection.name }, 'reading parked events failed'),
      );
    const raw = await this.redis.get(this.keys.checkpoint(this.projection.name));
    const after = raw ? BigInt(raw) : undefined;
    // One epoch per read model, shared by every process that projects it: a
    // private epoch per process made each one's watchdog mistake the others'
    // start for a wipe, and they restarted each other from 0 forever.
    const epochKey = this.keys.epoch(this.projection.name);
    await this.redis.set(epochKey, randomUUID(), 'NX');
    const epoch = (await this.redis.get(epochKey)) ?? '';
    // A rebuild's swap or a Redis wipe may have changed every key since the last run: the cache
    // goes, unless the read model is exactly as this runner left it (the lease lost and taken
    // back, no one projecting meanwhile): its checkpoint is the last one this runner wrote, so
    // no other runner committed a page since, and its epoch is the same, so no swap (which
    // renews the epoch) and no wipe happened. Re-reading every record then was wasted.
    const untouched = after !== undefined && after === this.position && epoch === this.epoch && epoch !== '';
    // From position 0 the read model is rebuilt from nothing: keys written before a wipe was
    // noticed (a page retried into the empty Redis) must not be mistaken for earlier events'.
    if (!untouched) this.cache.reset(after === undefined);
    this.streams.clear();
    this.epoch = epoch;
    this.position = after;
    this.sub = this.store.subscribeToAll({
      after,
      batchSize: PAGE_SIZE,
      onEvent: (e) => this.handle([e]),
      onPage: (page) => this.handle(page),
      onError: (err) => {
        if (this.stopping) return;
        // The store outlasted the subscription's retry budget: come back from the checkpoint,
        // or the read model would stay frozen after the store returned.
        this.log.error({ err, projection: this.projection.name }, 'projection subscription stopped; resubscribing');
        setTimeout(() => void this.resubscribe(), 1000).unref();
      },
    });
    this.watchdog = setInterval(() => void this.checkEpoch(), 2000);
    this.watchdog.unref();
    this.log.info({ projection: this.projection.name, after: after?.toString() ?? 'start' }, 'projection subscribed');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    await this.sub?.stop();
    this.sub = undefined;
  }

  /** Stops for good (shutdown): a pause in progress does not resume it. */
  async close(): Promise<void> {
    this.closed = true;
    await this.stop();
  }

  /**
   * Runs `fn` while this runner writes nothing (the event in flight finishes
   * first), then resumes from the checkpoint in Redis, which `fn` may have
   * moved (a rebuild's swap). Readers keep reading the read model meanwhile.
   */
  async paused<T>(fn: () => Promise<T>): Promise<T> {
    await this.stop();
    try {
      return await fn();
    } finally {
      if (!this.closed) await this.start();
    }
  }

  private async resubscribe(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.stop();
      await this.start();
    } catch (err) {
      if (this.closed) return;
      this.log.warn({ err, projection: this.projection.name }, 'projection resubscribe failed; retrying');
      this.stopping = false;
      setTimeout(() => void this.resubscribe(), 1000).unref();
    }
  }

  private async checkEpoch(): Promise<void> {
    if (this.stopping) return;
    try {
      const epoch = await this.redis.get(this.keys.epoch(this.projection.name));
      // A pause (rebuild, replay check) may have begun during the read: it owns the runner now.
      if (epoch === this.epoch || this.stopping) return;
      await this.stop();
      if (epoch === null) {
        this.log.warn({ projection: this.projection.name }, 'read models vanished from Redis; rebuilding from the log');
        await this.redis.del(this.keys.checkpoint(this.projection.name));
      } else {
        // Another process saw the wipe first and began the rebuild: follow it from the shared checkpoint.
        this.log.info({ projection: this.projection.name }, 'read models rebuilt by another process; following');
      }
      await this.start();
    } catch {
      // Redis down: the next tick tries again.
    }
  }

  /**
   * One page of events, one MULTI: their writes and the checkpoint of the last
   * one land together (reads see the page's earlier writes), so the read model
   * is always a prefix of the log. A poison event's writes are rolled back
   * alone and it is parked; the rest of the page stands.
   */
  private async handle(page: RecordedEvent[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const tx = new LiveTx(this.redis, this.cache);
        for (const e of page) {
          // An event the read model ignores costs no call, no promise, no await (as in a replay): each of
          // the five live read models handles about one event in five, and an async apply's promise and
          // frame per event per read model were a tenth of what a create allocated.
          if (this.projection.handles && !this.projection.handles(e)) continue;
          tx.mark();
          try {
            await this.projection.apply(e, tx);
          } catch (err) {
            if (!isPoison(err)) throw err;
            tx.rollback();
            await this.park(e, err);
          }
        }
        const last = page[page.length - 1]!;
        const fence = this.fence?.();
        if (this.fence && !fence) throw new Error('this process no longer owns the control-plane lease');
        await tx.commit(this.keys.checkpoint(this.projection.name), last.position, fence);
        this.position = last.position;
        for (const e of page) this.streams.applied(e.streamId, e.revision);
        for (const e of page) this.emit('applied', e);
        return;
      } catch (err) {
        if (this.stopping) throw err;
        const delay = Math.min(5000, 100 * 2 ** Math.min(attempt, 6));
        this.log.warn({ err, projection: this.projection.name, attempt }, 'projection write failed; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private async park(e: RecordedEvent, err: unknown): Promise<void> {
    if (!(await this.parking.park(e, err))) return;
    this.log.error(
      { err, projection: this.projection.name, position: e.position.toString(), eventId: e.id, type: e.type },
      'projection cannot apply this event; parked it and went on',
    );
  }

  /**
   * What this runner last committed under `key` (as Redis holds it: the runner is its keys' only
   * writer and learns a page's writes once its MULTI succeeded), or undefined when it does not know
   * (not cached, or not running: a paused runner's keys may be swapped under it).
   */
  committed(key: string): unknown {
    return this.sub && !this.stopping ? this.cache.peek(key) : undefined;
  }

  /** Resolves once this projection has applied `position` (read-your-writes for the API), or after timeoutMs. */
  waitFor(position: bigint, timeoutMs: number): Promise<boolean> {
    if (this.position !== undefined && this.position >= position) return Promise.resolve(true);
    return this.nextApplied((e) => e.position >= position, timeoutMs);
  }

  /**
   * Read-your-writes for one command: resolves once this projection applied
   * `streamId` up to `revision` — or the whole log up to `position`, which covers
   * a stream this projection ignores — or false after timeoutMs.
   */
  waitForStream(streamId: string, revision: bigint, position: bigint, timeoutMs: number): Promise<boolean> {
    const reached = (): boolean =>
      (this.position !== undefined && this.position >= position) || this.streams.reached(streamId, revision);
    if (reached()) return Promise.resolve(true);
    return this.nextApplied(
      (e) => e.position >= position || (e.streamId === streamId && e.revision >= revision),
      timeoutMs,
    );
  }

  /** Resolves true when the projection applies an event matching `pred`, false after timeoutMs. */
  nextApplied(pred: (e: RecordedEvent) => boolean, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const onApplied = (e: RecordedEvent) => {
        if (pred(e)) done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.off('applied', onApplied);
        resolve(ok);
      };
      this.on('applied', onApplied);
    });
  }
}
