/**
 * TEST-ONLY in-memory stand-in for KurrentDBClient 1.3.1. No KurrentDB server can run on
 * the development machine, so the adapter's own logic (option mapping, error mapping,
 * hash-chain retries, paging, filtering, subscriptions) is exercised against this stub.
 * It imitates what the real client and server do, read from the client's source:
 * - `streamState` checks; a conflict throws the client's WrongExpectedVersionError, or,
 *   with `throwOnAppendFailure: false`, resolves `{success: false, nextExpectedRevision,
 *   position: undefined}` where nextExpectedRevision is what batchAppend computes
 *   (`BigInt(hasCurrentStreamRevision())`: 1n for an existing stream, -1n otherwise);
 * - deadlines: a hung append rejects with the client's DeadlineExceededError once its
 *   `deadline` passes (the server enforces batchAppend's deadline); a hung read ignores
 *   `deadline`, as the Rust bridge that serves reads in 1.3.1 drops it;
 * - server-side $all filters (`filter` on stream name or event type, regex or prefixes);
 * - tombstoned streams raise StreamDeletedError on read and append;
 * - a lagging follower: reads without `requiresLeader` miss the newest `followerLag` events;
 * - commit == prepare positions, inclusive forward / exclusive backward $all reads,
 *   exclusive subscription start.
 * It proves nothing about a real server: the contract suite runs against one when
 * KURRENTDB_URL is set.
 */
import {
  DeadlineExceededError as KurrentDeadlineExceededError,
  StreamDeletedError as KurrentStreamDeletedError,
  StreamNotFoundError as KurrentStreamNotFoundError,
  WrongExpectedVersionError as KurrentWrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import type {
  AllStreamResolvedEvent,
  JSONEventData,
  KurrentAppendOptions,
  KurrentAppendResult,
  KurrentCallOptions,
  KurrentFilter,
  KurrentClientLike,
  KurrentReadAllOptions,
  KurrentReadStreamOptions,
  KurrentSubscriptionHandle,
  ResolvedEvent,
  SubscribeToAllOptions,
} from '../../src/eventstore/kurrentdb/kurrentdb.client.js';

interface StoredRecord {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  data: JSONEventData['data'];
  metadata: JSONEventData['metadata'];
  created: Date;
  position: { commit: bigint; prepare: bigint };
}

type Method = 'appendToStream' | 'readStream' | 'readAll' | 'subscribeToAll';

export interface AppendCall {
  streamName: string;
  events: JSONEventData[];
  options: Record<string, unknown>;
}

/** The error grpc-js raises when nothing listens on the port: a plain ServiceError with code 14. */
export function rawGrpcUnavailable(): Error {
  return Object.assign(new Error('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED'), {
    code: 14,
    details: 'No connection established. Last error: connect ECONNREFUSED',
  });
}

export class StubKurrentClient implements KurrentClientLike {
  readonly appendCalls: AppendCall[] = [];
  readonly readStreamCalls: KurrentReadStreamOptions[] = [];
  readonly readAllCalls: KurrentReadAllOptions[] = [];
  readonly subscribeCalls: SubscribeToAllOptions[] = [];
  readonly metadataCalls: Array<{ streamName: string; metadata: { maxCount?: number }; options: KurrentCallOptions }> =
    [];
  /** Errors thrown by the next calls of a method, in order. */
  readonly failures = new Map<Method, unknown[]>();
  /** Calls that get no answer from the server (a black-holed connection). */
  private readonly hangs = new Map<Method, number>();
  /** The client's `throwOnAppendFailure` (connection string option; true by default, as in the client). */
  throwOnAppendFailure = true;
  /** Events the follower this client talks to has not replicated yet; only leader reads see them. */
  followerLag = 0;
  private readonly tombstoned = new Set<string>();
  /** Runs before an append is checked: lets a test slip in a "concurrent" writer. */
  beforeAppend: ((streamName: string) => Promise<void> | void) | undefined;
  disposed = false;

  private readonly streams = new Map<string, StoredRecord[]>();
  private readonly log: StoredRecord[] = [];
  private nextPosition = 1_000n;
  private readonly listeners = new Set<(error?: unknown) => void>();

  /** The next call of `method` gets no answer: appends time out at their deadline, reads wait forever. */
  hangNext(method: Method): void {
    this.hangs.set(method, (this.hangs.get(method) ?? 0) + 1);
  }

  /** Hard-deletes a stream, as tombstoneStream does: it can never be read or written again. */
  tombstone(streamName: string): void {
    this.tombstoned.add(streamName);
  }

  failNext(method: Method, error: unknown): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(error);
    this.failures.set(method, queue);
  }

  /** Makes every open subscription fail with `error`, as a dropped connection does. */
  breakSubscriptions(error: unknown): void {
    for (const l of [...this.listeners]) l(error);
  }

  get openSubscriptions(): number {
    return this.listeners.size;
  }

  /** Simulates server-written events ($stats, projections) that must never reach virtledger readers. */
  writeSystemEvent(streamName = '$stats-127.0.0.1:2113'): void {
    this.store(streamName, [
      {
        id: crypto.randomUUID(),
        contentType: 'application/json',
        type: '$statsCollected',
        data: {},
        metadata: undefined,
      },
    ]);
  }

  async appendToStream(
    streamName: string,
    events: JSONEventData[],
    options: KurrentAppendOptions,
  ): Promise<KurrentAppendResult> {
    this.appendCalls.push({ streamName, events, options: { ...options } });
    this.throwIfFailing('appendToStream');
    if (this.takeHang('appendToStream')) {
      // No answer; the deadline (default 10 s, like the client's defaultDeadline) ends the call.
      const ms = options.deadline ?? 10_000;
      await new Promise((resolve) => setTimeout(resolve, ms));
      throw new KurrentDeadlineExceededError();
    }
    await this.beforeAppend?.(streamName);
    if (this.tombstoned.has(streamName)) throw KurrentStreamDeletedError.fromStreamName(streamName);
    const existing = this.streams.get(streamName);
    const current = existing ? BigInt(existing.length - 1) : undefined;
    const state = options.streamState;
    const ok =
      state === 'any' ||
      (state === 'no_stream' && current === undefined) ||
      (state === 'stream_exists' && current !== undefined) ||
      (typeof state === 'bigint' && current === state);
    if (!ok && !this.throwOnAppendFailure) {
      return { success: false, nextExpectedRevision: current === undefined ? -1n : 1n, position: undefined };
    }
    if (!ok) {
      throw new KurrentWrongExpectedVersionError(undefined, {
        streamName,
        expected: state,
        current: current ?? 'no_stream',
      });
    }
    const stored = this.store(streamName, events);
    const last = stored[stored.length - 1];
    return {
      success: true,
      nextExpectedRevision: last?.revision ?? -1n,
      ...(last ? { position: last.position } : {}),
    };
  }

  readStream(streamName: string, options: KurrentReadStreamOptions): AsyncIterable<ResolvedEvent> {
    this.readStreamCalls.push({ ...options });
    return this.readStreamRecords(streamName, options);
  }

  private async *readStreamRecords(
    streamName: string,
    options: KurrentReadStreamOptions,
  ): AsyncGenerator<ResolvedEvent> {
    this.throwIfFailing('readStream');
    if (this.takeHang('readStream')) await new Promise(() => undefined);
    if (this.tombstoned.has(streamName)) throw KurrentStreamDeletedError.fromStreamName(streamName);
    const visible = this.visible(options.requiresLeader);
    const records = this.streams.get(streamName)?.filter((r) => visible.has(r));
    if (!records?.length) throw new KurrentStreamNotFoundError(undefined, streamName);
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? 'end' : 'start');
    const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
    let selected = backwards ? [...records].reverse() : records;
    if (typeof from === 'bigint')
      selected = selected.filter((r) => (backwards ? r.revision <= from : r.revision >= from));
    for (const r of selected.slice(0, max)) yield { event: toClientRecord(r) };
  }

  readAll(options: KurrentReadAllOptions): AsyncIterable<AllStreamResolvedEvent> {
    this.readAllCalls.push({ ...options });
    return this.readAllRecords(options);
  }

  private async *readAllRecords(options: KurrentReadAllOptions): AsyncGenerator<AllStreamResolvedEvent> {
    this.throwIfFailing('readAll');
    if (this.takeHang('readAll')) await new Promise(() => undefined);
    const backwards = options.direction === 'backwards';
    const from = options.fromPosition ?? (backwards ? 'end' : 'start');
    const max = Number(options.maxCount ?? Number.MAX_SAFE_INTEGER);
    const visible = this.visible(options.requiresLeader);
    // The server filters before counting: maxCount is a number of matching events.
    const log = this.log.filter((r) => visible.has(r) && passes(options.filter, r));
    let selected = backwards ? [...log].reverse() : log;
    // Like the server: a forward read includes the start position, a backward read excludes it.
    if (typeof from === 'object') {
      selected = selected.filter((r) =>
        backwards ? r.position.commit < from.commit : r.position.commit >= from.commit,
      );
    }
    for (const r of selected.slice(0, max)) yield { event: toClientRecord(r), commitPosition: r.position.commit };
  }

  subscribeToAll(options: SubscribeToAllOptions): KurrentSubscriptionHandle {
    this.subscribeCalls.push({ ...options });
    this.throwIfFailing('subscribeToAll');
    const { log, listeners } = this;
    let ended = false;
    let broken: unknown;
    let wake: (() => void) | undefined;
    const listener = (error?: unknown): void => {
      if (error !== undefined) broken = error;
      wake?.();
    };
    this.listeners.add(listener);
    const from = options.fromPosition ?? 'start';
    let index =
      from === 'start'
        ? 0
        : from === 'end'
          ? this.log.length
          : this.log.findIndex((r) => r.position.commit > from.commit);
    if (index < 0) index = this.log.length;
    return {
      async unsubscribe(): Promise<void> {
        ended = true;
        listeners.delete(listener);
        wake?.();
      },
      [Symbol.asyncIterator](): AsyncIterator<AllStreamResolvedEvent> {
        return {
          async next(): Promise<IteratorResult<AllStreamResolvedEvent>> {
            for (;;) {
              if (broken !== undefined) {
                listeners.delete(listener);
                throw broken;
              }
              if (ended) return { done: true, value: undefined };
              const r = log[index];
              if (r) {
                index++;
                if (!passes(options.filter, r)) continue;
                return { done: false, value: { event: toClientRecord(r), commitPosition: r.position.commit } };
              }
              await new Promise<void>((resolve) => {
                wake = resolve;
              });
            }
          },
          async return(): Promise<IteratorResult<AllStreamResolvedEvent>> {
            ended = true;
            listeners.delete(listener);
            return { done: true, value: undefined };
          },
        };
      },
    };
  }

  async setStreamMetadata(
    streamName: string,
    metadata: { maxCount?: number },
    options: KurrentCallOptions,
  ): Promise<KurrentAppendResult> {
    this.metadataCalls.push({ streamName, metadata, options: { ...options } });
    return { success: true, nextExpectedRevision: 0n };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
  }

  private store(streamName: string, events: JSONEventData[]): StoredRecord[] {
    const records = this.streams.get(streamName) ?? [];
    this.streams.set(streamName, records);
    const stored = events.map((e) => {
      const position = this.nextPosition;
      // Real log positions are byte offsets: increasing, not contiguous.
      this.nextPosition += 137n;
      const record: StoredRecord = {
        streamId: streamName,
        id: e.id,
        revision: BigInt(records.length),
        type: e.type,
        // The server keeps bytes; a JSON round trip is what a reader gets back.
        data: JSON.parse(JSON.stringify(e.data)) as JSONEventData['data'],
        metadata:
          e.metadata === undefined ? undefined : (JSON.parse(JSON.stringify(e.metadata)) as JSONEventData['metadata']),
        created: new Date(),
        position: { commit: position, prepare: position },
      };
      records.push(record);
      this.log.push(record);
      return record;
    });
    for (const l of this.listeners) l();
    return stored;
  }

  /** What a read sees: everything on the leader; a follower misses the newest `followerLag` events. */
  private visible(requiresLeader: boolean | undefined): Set<StoredRecord> {
    const lag = requiresLeader ? 0 : this.followerLag;
    return new Set(this.log.slice(0, Math.max(0, this.log.length - lag)));
  }

  private takeHang(method: Method): boolean {
    const n = this.hangs.get(method) ?? 0;
    if (n === 0) return false;
    this.hangs.set(method, n - 1);
    return true;
  }

  private throwIfFailing(method: Method): void {
    const error = this.failures.get(method)?.shift();
    if (error !== undefined) throw error;
  }
}

/** The server's filter: on stream name or event type, by regex or by prefixes. */
function passes(filter: KurrentFilter | undefined, r: StoredRecord): boolean {
  if (!filter) return true;
  const subject = filter.filterOn === 'streamName' ? r.streamId : r.type;
  if ('prefixes' in filter) return filter.prefixes.some((p) => subject.startsWith(p));
  return new RegExp(filter.regex).test(subject);
}

function toClientRecord(r: StoredRecord): NonNullable<AllStreamResolvedEvent['event']> {
  return {
    streamId: r.streamId,
    id: r.id,
    isJson: true,
    revision: r.revision,
    type: r.type,
    created: r.created,
    data: r.data,
    metadata: r.metadata ?? {},
    position: r.position,
  };
}
