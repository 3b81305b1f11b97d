import type {
  AllStreamResolvedEvent,
  AppendResult as KurrentAppendResult,
  AppendStreamState,
  JSONEventData,
  ReadAllOptions as KurrentReadAllOptions,
  ReadStreamOptions as KurrentReadStreamOptions,
  ResolvedEvent,
  SubscribeToAllOptions,
} from '@kurrent/kurrentdb-client';

export type { AllStreamResolvedEvent, AppendStreamState, JSONEventData, ResolvedEvent };
export type { KurrentAppendResult, KurrentReadAllOptions, KurrentReadStreamOptions, SubscribeToAllOptions };

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
    options: { streamState: AppendStreamState },
  ): Promise<KurrentAppendResult>;
  readStream(streamName: string, options: KurrentReadStreamOptions): AsyncIterable<ResolvedEvent>;
  readAll(options: KurrentReadAllOptions): AsyncIterable<AllStreamResolvedEvent>;
  subscribeToAll(options: SubscribeToAllOptions): KurrentSubscriptionHandle;
  setStreamMetadata(streamName: string, metadata: { maxCount?: number }): Promise<KurrentAppendResult>;
  dispose(): Promise<void>;
}

/** `esdb://` is the pre-rename scheme; the client accepts it but warns on every start. */
export function normalizeKurrentUrl(url: string): string {
  return url.replace(/^esdb(\+discover)?:\/\//, (_m, discover: string | undefined) => `kurrentdb${discover ?? ''}://`);
}

/** Loaded lazily so that SQLite and PostgreSQL deployments never load the gRPC/native client. */
export async function connectKurrent(url: string): Promise<KurrentClientLike> {
  const { KurrentDBClient } = await import('@kurrent/kurrentdb-client');
  return KurrentDBClient.connectionString(normalizeKurrentUrl(url));
}
