import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import {
  DEAD_DELIVERIES_FIELD,
  DEAD_ENTRY_FIELD,
  DEAD_REASON_FIELD,
  RESULT_ID_FIELD,
  RESULT_MESSAGE_FIELD,
  streamField,
  type ResultMessage,
} from './jobs.js';

export interface ResultStreamOptions {
  key: string;
  group: string;
  /** This process's name in the group: unique per process, so a dead one's entries can be told apart. */
  consumer: string;
  /** Results being recorded at once. */
  concurrency: number;
  /** How long one read waits for new entries (also how long stop() may wait for it). */
  blockMs: number;
  /**
   * An entry read and not acknowledged for this long is taken again: its process died, or
   * recording it failed (the store was down). At-least-once; the decider makes a repeat a no-op.
   */
  claimIdleMs: number;
  /**
   * Deliveries after which a result that still could not be recorded (a bug, not an outage: the
   * store being down is retried for as long as this many claims last) is moved to `<key>:dead`
   * with the last reason, out of the retry loop but kept for an operator. BullMQ gave up after 20.
   */
  maxDeliveries?: number;
  /** A consumer name idle this long with nothing pending is a process gone for good: its name is removed (1 h). */
  goneConsumerIdleMs?: number;
}

export const DEFAULT_MAX_DELIVERIES = 20;
const GONE_CONSUMER_IDLE_MS = 3_600_000;

/** A stream entry: its id and its flat field list. */
type Entry = [string, string[]];

function connect(connection: ConnectionOptions): Redis {
  return connection instanceof Redis ? connection.duplicate() : new Redis(connection as RedisOptions);
}

function isEntry(e: unknown): e is Entry {
  return Array.isArray(e) && typeof e[0] === 'string' && Array.isArray(e[1]);
}

/**
 * Reads the results stream as one consumer of the control plane's group: new entries with
 * XREADGROUP (a batch per call), entries left pending too long with XAUTOCLAIM, and once a result is
 * recorded its entry is acknowledged and deleted in one MULTI (batched per turn), so the stream holds
 * exactly what is not recorded yet. A result whose recording fails stays pending and is taken again
 * after claimIdleMs, by this process or another; a result is never dropped for failing.
 */
export class ResultStreamReader {
  private reader: Redis | undefined;
  private acker: Redis | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private groupReady = false;
  private readonly inFlight = new Map<string, Promise<void>>();
  private slotFreed: (() => void) | undefined;
  private acks: string[] = [];
  private acking: Promise<void> = Promise.resolve();
  private lastClaim = 0;
  private claimCursor = '0-0';
  /** The last reason each entry failed, for the dead-letter record. */
  private readonly lastError = new Map<string, string>();

  constructor(
    private readonly connection: ConnectionOptions,
    private readonly opts: ResultStreamOptions,
    private readonly handle: (id: string, message: ResultMessage) => Promise<void>,
    private readonly log: Logger,
  ) {}

  start(): void {
    const onError = (err: unknown) => this.log.debug({ err }, 'results stream connection');
    this.reader = connect(this.connection).on('error', onError);
    this.acker = connect(this.connection).on('error', onError);
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    // Ends a read blocked on the stream at once; the loop sees running false and returns.
    this.reader?.disconnect();
    this.slotFreed?.();
    await this.loop;
    await Promise.allSettled([...this.inFlight.values()]);
    // With Redis down the acknowledgements would wait for it forever: a bounded wait, then the
    // connection is dropped (what was not acknowledged is taken again and records nothing twice).
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((r) => (timer = setTimeout(r, 2000)));
    await Promise.race([this.flushAcks(), bound]);
    await Promise.race([this.acking, bound]);
    clearTimeout(timer);
    await Promise.race([this.forgetConsumer(this.opts.consumer), bound]).catch(() => undefined);
    this.acker?.disconnect();
    this.reader = this.acker = undefined;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (this.inFlight.size >= this.opts.concurrency) {
          await new Promise<void>((r) => (this.slotFreed = r));
          continue;
        }
        await this.ensureGroup();
        const free = this.opts.concurrency - this.inFlight.size;
        const entries = this.claimDue() ? await this.claim(free) : await this.read(free);
        for (const entry of entries) this.dispatch(entry);
      } catch (err) {
        if (!this.running) return;
        // Redis restarted empty: the stream and its group are gone; create them again.
        if (err instanceof Error && err.message.includes('NOGROUP')) this.groupReady = false;
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'results stream read failed');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private async ensureGroup(): Promise<void> {
    if (this.groupReady) return;
    try {
      // From the stream's first entry: results posted before any control plane ran are read too.
      await this.acker!.xgroup('CREATE', this.opts.key, this.opts.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!(err instanceof Error && err.message.includes('BUSYGROUP'))) throw err;
    }
    this.groupReady = true;
    // Names of processes gone for good (killed, never stopped) would pile up in the group.
    await this.forgetGoneConsumers().catch((err: unknown) =>
      this.log.debug({ err }, 'results stream: consumer clean-up skipped'),
    );
  }

  /**
   * Removes a consumer's name from the group, only when it holds nothing pending: XGROUP
   * DELCONSUMER drops a consumer's pending entries with it, which would lose their results.
   */
  private async forgetConsumer(name: string): Promise<void> {
    const pending = (await this.acker!.xpending(this.opts.key, this.opts.group, '-', '+', 1, name)) as unknown[];
    if (pending.length === 0) await this.acker!.xgroup('DELCONSUMER', this.opts.key, this.opts.group, name);
  }

  private async forgetGoneConsumers(): Promise<void> {
    const consumers = (await this.acker!.xinfo('CONSUMERS', this.opts.key, this.opts.group)) as unknown[][];
    for (const fields of consumers) {
      const info = new Map<unknown, unknown>();
      for (let i = 0; i + 1 < fields.length; i += 2) info.set(fields[i], fields[i + 1]);
      const name = info.get('name');
      if (typeof name !== 'string' || name === this.opts.consumer) continue;
      if (
        Number(info.get('pending')) === 0 &&
        Number(info.get('idle')) >= (this.opts.goneConsumerIdleMs ?? GONE_CONSUMER_IDLE_MS)
      )
        await this.forgetConsumer(name);
    }
  }

  private claimDue(): boolean {
    return Date.now() - this.lastClaim >= Math.max(50, this.opts.claimIdleMs / 3);
  }

  /** Entries pending longer than claimIdleMs (any consumer's), made this consumer's; one page per call. */
  private async claim(count: number): Promise<Entry[]> {
    const reply = (await this.acker!.xautoclaim(
      this.opts.key,
      this.opts.group,
      this.opts.consumer,
      this.opts.claimIdleMs,
      this.claimCursor,
      'COUNT',
      count,
    )) as unknown[];
    const next = typeof reply[0] === 'string' ? reply[0] : '0-0';
    this.claimCursor = next;
    // A page per call; the pass over the whole pending list ends when the cursor comes back to 0-0.
    if (next === '0-0') this.lastClaim = Date.now();
    const entries = Array.isArray(reply[1]) ? reply[1].filter(isEntry) : [];
    // An entry this process is still recording is not started twice here.
    const fresh = entries.filter(([id]) => !this.inFlight.has(id));
    if (!fresh.length) return fresh;
    const tries = await this.deliveries(fresh.map(([id]) => id));
    const max = this.opts.maxDeliveries ?? DEFAULT_MAX_DELIVERIES;
    const dead = fresh.filter(([id]) => (tries.get(id) ?? 0) > max);
    if (dead.length) await this.deadLetter(dead, tries);
    return fresh.filter(([id]) => (tries.get(id) ?? 0) <= max);
  }

  /** How many times each entry was delivered (XAUTOCLAIM counts its own claim as one). */
  private async deliveries(ids: string[]): Promise<Map<string, number>> {
    const pipe = this.acker!.pipeline();
    for (const id of ids) pipe.xpending(this.opts.key, this.opts.group, id, id, 1);
    const replies = (await pipe.exec()) ?? [];
    const tries = new Map<string, number>();
    for (const [err, reply] of replies) {
      const row = !err && Array.isArray(reply) ? (reply[0] as unknown[] | undefined) : undefined;
      if (row && typeof row[0] === 'string') tries.set(row[0], Number(row[3]));
    }
    return tries;
  }

  /**
   * Out of the retry loop, kept whole in `<key>:dead` with why and how often it was taken (what an
   * operator lists before a retry or a discard): moved, acknowledged and deleted in one MULTI.
   */
  private async deadLetter(entries: Entry[], tries: Map<string, number>): Promise<void> {
    const tx = this.acker!.multi();
    for (const [id, fields] of entries) {
      const reason = this.lastError.get(id) ?? 'not recorded';
      const deliveries = String(tries.get(id) ?? 0);
      tx.xadd(
        `${this.opts.key}:dead`,
        '*',
        ...fields,
        DEAD_ENTRY_FIELD,
        id,
        DEAD_REASON_FIELD,
        reason,
        DEAD_DELIVERIES_FIELD,
        deliveries,
      );
      tx.xack(this.opts.key, this.opts.group, id).xdel(this.opts.key, id);
      this.lastError.delete(id);
      this.log.error(
        { entry: id, result: streamField(fields, RESULT_ID_FIELD), reason, deadLetter: `${this.opts.key}:dead` },
        'result could not be recorded after every retry; moved to the dead-letter stream',
      );
    }
    await tx.exec();
  }

  private async read(count: number): Promise<Entry[]> {
    const reply = (await this.reader!.xreadgroup(
      'GROUP',
      this.opts.group,
      this.opts.consumer,
      'COUNT',
      count,
      'BLOCK',
      this.opts.blockMs,
      'STREAMS',
      this.opts.key,
      '>',
    )) as Array<[string, unknown[]]> | null;
    return (reply?.[0]?.[1] ?? []).filter(isEntry);
  }

  private dispatch([entryId, fields]: Entry): void {
    const json = streamField(fields, RESULT_MESSAGE_FIELD);
    let message: ResultMessage;
    try {
      message = JSON.parse(json ?? '') as ResultMessage;
    } catch {
      // Nothing can ever record it: dropped with its content in the log, not retried forever.
      this.log.error({ entry: entryId, fields }, 'malformed result dropped');
      this.ack(entryId);
      return;
    }
    const id = streamField(fields, RESULT_ID_FIELD) ?? entryId;
    const done = this.handle(id, message).then(
      () => {
        this.lastError.delete(entryId);
        this.ack(entryId);
      },
      (err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        if (this.lastError.size > 10_000) this.lastError.clear();
        this.lastError.set(entryId, reason);
        this.log.warn(
          { err: reason, result: id, retryInMs: this.opts.claimIdleMs },
          'result not recorded; it stays pending and is taken again',
        );
      },
    );
    this.inFlight.set(
      entryId,
      done.finally(() => {
        this.inFlight.delete(entryId);
        const freed = this.slotFreed;
        this.slotFreed = undefined;
        freed?.();
      }),
    );
  }

  private ack(entryId: string): void {
    this.acks.push(entryId);
    if (this.acks.length === 1) setImmediate(() => void this.flushAcks());
  }

  /** The turn's recorded entries acknowledged and deleted together (one MULTI: never one without the other). */
  private flushAcks(): Promise<void> {
    const ids = this.acks;
    if (!ids.length || !this.acker) return this.acking;
    this.acks = [];
    const tx = this.acker
      .multi()
      .xack(this.opts.key, this.opts.group, ...ids)
      .xdel(this.opts.key, ...ids);
    // Not acknowledged (Redis down): they are taken again later and their repeat records nothing.
    this.acking = tx.exec().then(
      () => undefined,
      (err: unknown) => this.log.warn({ err, entries: ids.length }, 'results not acknowledged; taken again later'),
    );
    return this.acking;
  }
}
