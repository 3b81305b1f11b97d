import type {
  AllStreamResolvedEvent,
  AppendResult as KurrentAppendResult,
  AppendStreamState,
  Filter as KurrentFilter,
  JSONEventData,
  ReadAllOptions as KurrentReadAllOptions,
  ReadStreamOptions as KurrentReadStreamOptions,
  ResolvedEvent,
  SubscribeToAllOptions,
} from '@kurrent/kurrentdb-client';

export type { AllStreamResolvedEvent, AppendStreamState, JSONEventData, KurrentFilter, ResolvedEvent };
export type { KurrentAppendResult, KurrentReadAllOptions, KurrentReadStreamOptions, SubscribeToAllOptions };

/** The per-call options of the client's BaseOptions the adapter sets on every call it can. */
export interface KurrentCallOptions {
  /** Milliseconds; the client turns it into a gRPC deadline (appends) — reads ignore it in 1.3.1, see the store. */
  deadline?: number;
  requiresLeader?: boolean;
}

export interface KurrentAppendOptions extends KurrentCallOptions {
  streamState: AppendStreamState;
}

/** What the adapter needs from a catch-up subscription: pull-based iteration (backpressure) and a way to end it. */
export interface KurrentSubscriptionHandle extends AsyncIterable<AllStreamResolvedEvent> {
  unsubscribe(): Promise<void>;
}

/**
 * The slice of KurrentDBClient the adapter uses. Narrow on purpose: the real client
 * satisfies it structurally, and unit tests substitute a stub without a server.
 */
export interface KurrentClientLike {
  appendToStream(
    streamName: string,
    events: JSONEventData[],
    options: KurrentAppendOptions,
  ): Promise<KurrentAppendResult>;
  readStream(streamName: string, options: KurrentReadStreamOptions): AsyncIterable<ResolvedEvent>;
  readAll(options: KurrentReadAllOptions): AsyncIterable<AllStreamResolvedEvent>;
  subscribeToAll(options: SubscribeToAllOptions): KurrentSubscriptionHandle;
  setStreamMetadata(
    streamName: string,
    metadata: { maxCount?: number },
    options: KurrentCallOptions,
  ): Promise<KurrentAppendResult>;
  dispose(): Promise<void>;
}

/**
 * Every scheme client 1.3.1's parseConnectionString accepts (`+discover` = DNS/gossip
 * discovery of a cluster). `esdb` is the pre-rename spelling: accepted, but the client
 * warns on every start, so it is rewritten.
 */
export const KURRENT_SCHEMES = [
  'kurrentdb',
  'kurrentdb+discover',
  'kurrent',
  'kurrent+discover',
  'kdb',
  'kdb+discover',
  'esdb',
  'esdb+discover',
] as const;

export function normalizeKurrentUrl(url: string): string {
  return url.replace(/^esdb(\+discover)?:\/\//, (_m, discover: string | undefined) => `kurrentdb${discover ?? ''}://`);
}

/**
 * Reads in client 1.3.1 go through its Rust bridge, which drops the per-call `deadline`
 * and applies only the connection string's `defaultDeadline`. Setting it (unless the
 * operator did) makes the server side of a read give up too, not just the adapter.
 */
export function withDefaultDeadline(url: string, deadlineMs: number): string {
  const query = url.indexOf('?');
  // The client matches option names case-insensitively and ignores '-' and '_'.
  const present = query >= 0 && /(^|&)default[-_]?deadline=/i.test(url.slice(query + 1));
  if (present) return url;
  return `${url}${query >= 0 ? '&' : '?'}defaultDeadline=${deadlineMs}`;
}

/** Loaded lazily so that SQLite and PostgreSQL deployments never load the gRPC/native client. */
export async function connectKurrent(url: string, deadlineMs: number): Promise<KurrentClientLike> {
  const { KurrentDBClient } = await import('@kurrent/kurrentdb-client');
  return KurrentDBClient.connectionString(withDefaultDeadline(normalizeKurrentUrl(url), deadlineMs));
}
