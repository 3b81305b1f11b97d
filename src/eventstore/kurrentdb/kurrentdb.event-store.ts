import { randomUUID } from 'node:crypto';
import { StreamDeletedError, StreamNotFoundError, UnavailableError, WrongExpectedVersionError } from '../errors.js';
import type {
  AppendResult,
  EventStore,
  ExpectedState,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from '../event-store.port.js';
import { assertExpected, couldHaveStartedAt, describeExpected } from '../expected-state.js';
import { chainEvents, GENESIS_HASH } from '../hash-chain.js';
import { normalizeNewEvents } from '../new-events.js';
import { toAppendResult } from '../record-codec.js';
import {
  connectKurrent,
  type KurrentAppendResult,
  type KurrentCallOptions,
  type KurrentClientLike,
  type KurrentFilter,
  type KurrentReadStreamOptions,
} from './kurrentdb.client.js';
import { callWithDeadline, collectWithDeadline, type Deadline } from './kurrentdb.deadline.js';
import { mapKurrentError } from './kurrentdb.errors.js';
import { allFilter, USER_STREAMS } from './kurrentdb.filters.js';
import {
  checkpointStream,
  isUserStream,
  type KurrentRecord,
  positionOf,
  toJsonEvent,
  toRecordedEvent,
} from './kurrentdb.records.js';
import { startKurrentSubscription } from './kurrentdb.subscription.js';

export interface KurrentDbEventStoreOptions {
  /** `kurrentdb://…`, `kurrentdb+discover://…` (cluster), `esdb://…`; ignored when `client` is given. */
  connectionString?: string;
  /** A ready client (tests inject a stub); the store then does not dispose it on close(). */
  client?: KurrentClientLike;
  /** Events per $all page. Default 500. */
  readPageSize?: number;
  /** Attempts when another writer slips in between reading the stream's tail and appending. Default 10. */
  maxAppendAttempts?: number;
  /** Subscriptions give up (onError) after the server has been unreachable this long. Default 30000. */
  giveUpAfterMs?: number;
  /** Deadline of every call (gRPC `deadline`, and the connection's `defaultDeadline` unless the URL sets one). Default 10000. */
  deadlineMs?: number;
  /** How long after the deadline the adapter stops waiting when the client does not enforce it. Default 1000. */
  deadlineGraceMs?: number;
}

/**
 * KurrentDB adapter. The hash chain needs the previous event's hash, so every append
 * reads the stream's tail, chains onto it and appends with `streamState` = the tail's
 * revision (never `expectedRevision`, which this client ignores). A conflict means
 * another writer got in between: re-read and try again — the caller's own expected
 * state is re-checked against the fresh tail each time, so `any` keeps retrying and an
 * exact revision ends in WrongExpectedVersionError.
 *
 * Duplicate event ids: KurrentDB does not make ids unique, so the adapter checks the
 * place an earlier successful append with the same expected state would have used;
 * finding the same ids there is an idempotent success. Reusing an id elsewhere is not
 * detected on this backend.
 *
 * $all is filtered by the server (system streams, prefixes or types: see
 * kurrentdb.filters.ts); pages are cut by the server's count of matching events, so a
 * page boundary cannot hide one. Every read requires the leader, so a follower that
 * lags never answers a read-your-writes load, and every call carries a deadline.
 * With `throwOnAppendFailure=false` in the URL the client reports a conflict as
 * `success: false` instead of throwing: that is a conflict too, never a success.
 */
export class KurrentDbEventStore implements EventStore {
  readonly kind = 'kurrentdb' as const;
  private client: KurrentClientLike | undefined;
  private readonly ownsClient: boolean;
  private readonly subscriptions = new Set<Subscription>();
  private readonly pageSize: number;
  private readonly maxAppendAttempts: number;
  private readonly deadline: Deadline;

  constructor(private readonly options: KurrentDbEventStoreOptions) {
    if (!options.client && !options.connectionString) {
      throw new Error('KurrentDB event store needs a connectionString or a client');
    }
    this.client = options.client;
    this.ownsClient = !options.client;
    this.pageSize = options.readPageSize ?? 500;
    this.maxAppendAttempts = options.maxAppendAttempts ?? 10;
    this.deadline = { ms: options.deadlineMs ?? 10_000, graceMs: options.deadlineGraceMs ?? 1_000 };
  }

  /** Options every read carries. */
  private get readOptions(): KurrentCallOptions {
    return { deadline: this.deadline.ms, requiresLeader: true };
  }

  async init(): Promise<void> {
    if (!this.client && this.options.connectionString) {
      this.client = await connectKurrent(this.options.connectionString, this.deadline.ms);
    }
    await this.ping();
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedState): Promise<AppendResult> {
    if (!isUserStream(streamId)) throw new TypeError(`stream ids starting with $ are reserved: ${streamId}`);
    const batch = normalizeNewEvents(events);
    const client = this.requireClient();
    for (let attempt = 1; ; attempt++) {
      const tail = await this.tail(streamId, batch.length);
      const lastRevision = tail[tail.length - 1]?.revision;
      const replay = await this.findReplay(streamId, batch, expected, tail, lastRevision);
      if (replay) return toAppendResult(replay);
      assertExpected(streamId, expected, lastRevision);
      const prevHash = tail[tail.length - 1]?.metadata.hash ?? GENESIS_HASH;
      const chained = chainEvents(streamId, batch, lastRevision ?? -1n, prevHash);
      const streamState = lastRevision ?? 'no_stream';
      try {
        const result = await callWithDeadline(
          client.appendToStream(streamId, chained.map(toJsonEvent), { streamState, deadline: this.deadline.ms }),
          this.deadline,
          'append',
          true,
        );
        // The client's success:false carries no reliable current revision (batch appends report
        // 0 or 1): say only that the stream moved; the next attempt re-reads the tail.
        if (!result.success) {
          throw new WrongExpectedVersionError(
            streamId,
            describeExpected(expected),
            `not ${describeExpected(streamState)}`,
          );
        }
      } catch (err) {
        const mapped = mapKurrentError(err, { operation: 'append', streamId, expected });
        if (mapped instanceof WrongExpectedVersionError && attempt < this.maxAppendAttempts) continue;
        throw mapped;
      }
      // Read back for the positions: the append result only carries the last one.
      const firstRevision = (lastRevision ?? -1n) + 1n;
      const written = await this.read(
        streamId,
        { direction: 'forwards', fromRevision: firstRevision, maxCount: batch.length },
        'append',
      );
      return toAppendResult(written.map(toRecordedEvent));
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    if (options.ifMissing !== 'empty') return this.readStreamOrThrow(streamId, options);
    // The server answers a missing stream with an error either way; only the caller's is spared.
    try {
      return await this.readStreamOrThrow(streamId, options);
    } catch (err) {
      if (err instanceof StreamNotFoundError) return [];
      throw err;
    }
  }

  private async readStreamOrThrow(streamId: string, options: ReadStreamOptions): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const fromRevision = options.fromRevision ?? (backwards ? 'end' : 'start');
    const direction = backwards ? 'backwards' : 'forwards';
    if (options.maxCount !== undefined && options.maxCount <= 0) {
      // Still throws StreamNotFoundError for a missing stream, like the other adapters.
      await this.read(streamId, { direction, fromRevision, maxCount: 1 }, 'readStream');
      return [];
    }
    const maxCount = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const records = await this.read(streamId, { direction, fromRevision, maxCount }, 'readStream');
    return records.map(toRecordedEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const limit = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return [];
    // An empty filter list means "no filter", the same as leaving it out.
    const prefixes = options.streamPrefixes?.length ? options.streamPrefixes : undefined;
    const types = options.types?.length ? new Set(options.types) : undefined;
    const out: RecordedEvent[] = [];
    // The server applies one filter; the checks below cover the other and the system-stream rule.
    for await (const record of this.scanAll('forwards', options.after, allFilter(options))) {
      if (!isUserStream(record.streamId)) continue;
      if (prefixes && !prefixes.some((p) => record.streamId.startsWith(p))) continue;
      if (types && !types.has(record.type)) continue;
      out.push(toRecordedEvent(record));
      if (out.length >= limit) break;
    }
    return out;
  }

  async headPosition(): Promise<bigint | undefined> {
    for await (const record of this.scanAll('backwards', undefined, USER_STREAMS)) {
      if (isUserStream(record.streamId)) return positionOf(record);
    }
    return undefined;
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    const sub = startKurrentSubscription(
      this.requireClient(),
      options,
      { giveUpAfterMs: this.options.giveUpAfterMs, filter: USER_STREAMS },
      (finished) => this.subscriptions.delete(finished),
    );
    this.subscriptions.add(sub);
    return sub;
  }

  async readCheckpoint(name: string): Promise<bigint | undefined> {
    let records: KurrentRecord[];
    try {
      records = await this.read(
        checkpointStream(name),
        { direction: 'backwards', fromRevision: 'end', maxCount: 1 },
        'readCheckpoint',
      );
    } catch (err) {
      if (err instanceof StreamNotFoundError) return undefined;
      throw err;
    }
    const data = records[0]?.data;
    if (data === undefined) return undefined;
    const position = typeof data === 'object' && data !== null ? (data as { position?: unknown }).position : undefined;
    if (typeof position !== 'string' || !/^\d+$/.test(position)) {
      throw new TypeError(`checkpoint ${name} holds no position`);
    }
    return BigInt(position);
  }

  async writeCheckpoint(name: string, position: bigint): Promise<void> {
    const client = this.requireClient();
    const stream = checkpointStream(name);
    try {
      const written = client.appendToStream(
        stream,
        [
          {
            id: randomUUID(),
            contentType: 'application/json',
            type: 'virtledger.checkpoint',
            data: { position: position.toString() },
            metadata: undefined,
          },
        ],
        { streamState: 'any', deadline: this.deadline.ms },
      );
      const result = await callWithDeadline(written, this.deadline, 'writeCheckpoint', true);
      assertWritten(result, stream);
      // Only the last checkpoint matters: let the server scavenge the rest.
      if (result.nextExpectedRevision === 0n) {
        const capped = client.setStreamMetadata(stream, { maxCount: 8 }, { deadline: this.deadline.ms });
        assertWritten(await callWithDeadline(capped, this.deadline, 'writeCheckpoint', true), stream);
      }
    } catch (err) {
      throw mapKurrentError(err, { operation: 'writeCheckpoint', streamId: stream });
    }
  }

  async ping(): Promise<void> {
    const client = this.client;
    if (!client) throw new UnavailableError('KurrentDB event store is not connected: call init() first');
    try {
      const probe = client.readAll({ direction: 'backwards', fromPosition: 'end', maxCount: 1, ...this.readOptions });
      await collectWithDeadline(probe, this.deadline, 'ping', () => undefined);
    } catch (err) {
      throw mapKurrentError(err, { operation: 'ping' });
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    const client = this.client;
    this.client = this.ownsClient ? undefined : client;
    if (this.ownsClient) await client?.dispose();
  }

  private requireClient(): KurrentClientLike {
    if (!this.client) throw new Error('KurrentDB event store is not connected: call init() first');
    return this.client;
  }

  /** Raw records of one stream; StreamNotFoundError when it has none. */
  private async read(streamId: string, options: KurrentReadStreamOptions, operation: string): Promise<KurrentRecord[]> {
    const out: KurrentRecord[] = [];
    try {
      const source = this.requireClient().readStream(streamId, { ...options, ...this.readOptions });
      await collectWithDeadline(source, this.deadline, operation, (resolved) => {
        if (resolved.event) out.push(resolved.event);
      });
    } catch (err) {
      throw mapKurrentError(err, { operation, streamId });
    }
    return out;
  }

  /** The last `count` events of the stream in revision order; empty when the stream does not exist. */
  private async tail(streamId: string, count: number): Promise<RecordedEvent[]> {
    try {
      const newestFirst = await this.read(
        streamId,
        { direction: 'backwards', fromRevision: 'end', maxCount: count },
        'append',
      );
      return newestFirst.map(toRecordedEvent).reverse();
    } catch (err) {
      // A tombstoned stream can never be written again: say so instead of trying no_stream.
      if (err instanceof StreamNotFoundError && !(err instanceof StreamDeletedError)) return [];
      throw err;
    }
  }

  /** The stored events if this exact batch already sits where an earlier append with `expected` would have put it. */
  private async findReplay(
    streamId: string,
    batch: NewEvent[],
    expected: ExpectedState,
    tail: RecordedEvent[],
    lastRevision: bigint | undefined,
  ): Promise<RecordedEvent[] | undefined> {
    if (lastRevision === undefined) return undefined;
    const n = BigInt(batch.length);
    let start: bigint;
    if (expected === 'any' || expected === 'stream_exists') start = lastRevision - n + 1n;
    else if (expected === 'no_stream') start = 0n;
    else if (expected < lastRevision) start = expected + 1n;
    else return undefined;
    if (start < 0n || start + n - 1n > lastRevision || !couldHaveStartedAt(expected, start)) return undefined;
    const firstInTail = tail[0]?.revision ?? lastRevision + 1n;
    const candidates =
      start >= firstInTail
        ? tail.filter((e) => e.revision >= start && e.revision < start + n)
        : (
            await this.read(streamId, { direction: 'forwards', fromRevision: start, maxCount: batch.length }, 'append')
          ).map(toRecordedEvent);
    const same = candidates.length === batch.length && candidates.every((e, i) => e.id === batch[i]?.id);
    return same ? candidates : undefined;
  }

  /**
   * Pages through $all. Forward reads from a position include it, backward reads exclude
   * it; either way positions already yielded are skipped, so pages join without a gap or
   * a repeat.
   */
  private async *scanAll(
    direction: 'forwards' | 'backwards',
    from: bigint | undefined,
    filter: KurrentFilter,
  ): AsyncGenerator<KurrentRecord> {
    const client = this.requireClient();
    let cursor = from;
    let fromPosition: 'start' | 'end' | { commit: bigint; prepare: bigint } =
      from === undefined ? (direction === 'forwards' ? 'start' : 'end') : { commit: from, prepare: from };
    for (;;) {
      let count = 0;
      let pageLast: bigint | undefined;
      const page: KurrentRecord[] = [];
      try {
        const source = client.readAll({
          direction,
          fromPosition,
          maxCount: this.pageSize,
          filter,
          ...this.readOptions,
        });
        await collectWithDeadline(source, this.deadline, 'readAll', (resolved) => {
          count++;
          const record = resolved.event;
          if (!record) return;
          const position = positionOf(record);
          pageLast = position;
          if (cursor !== undefined && (direction === 'forwards' ? position <= cursor : position >= cursor)) return;
          cursor = position;
          page.push(record);
        });
      } catch (err) {
        throw mapKurrentError(err, { operation: 'readAll' });
      }
      yield* page;
      if (count < this.pageSize || pageLast === undefined) return;
      fromPosition = { commit: pageLast, prepare: pageLast };
    }
  }
}

/** A checkpoint is appended with streamState any, which cannot conflict: success:false here is a server refusal. */
function assertWritten(result: KurrentAppendResult, stream: string): void {
  if (!result.success) throw new WrongExpectedVersionError(stream, 'any', 'refused');
}
