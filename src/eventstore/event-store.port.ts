/**
 * The event store port. Semantics mirror KurrentDB so that every adapter
 * (sqlite, postgres, kurrentdb) can be swapped without the domain noticing:
 * 0-based bigint stream revisions, an ordered global position, expected
 * stream state on append.
 */

/** What the caller expects the stream to be before an append. */
export type ExpectedState = 'any' | 'no_stream' | 'stream_exists' | bigint;

/** Metadata a caller supplies; the store adds prevHash/hash (the chain). */
export interface EventMetadataInput {
  principal: string;
  correlationId: string;
  causationId: string;
  at: string;
  schema: number;
  reason?: string;
  /** The command that decided the event, as given to the decider (absent on events from before it was recorded). */
  command?: RecordedCommand;
}

/** A command as metadata keeps it: its type and the rest of its fields. */
export interface RecordedCommand {
  type: string;
  args: Record<string, unknown>;
}

export interface EventMetadata extends EventMetadataInput {
  prevHash: string;
  hash: string;
}

export type EventData = Record<string, unknown>;

export interface NewEvent {
  /** Event id (uuid). Deterministic where a retry could append twice. */
  id: string;
  type: string;
  data: EventData;
  metadata: EventMetadataInput;
}

export interface RecordedEvent {
  id: string;
  streamId: string;
  revision: bigint;
  /** Global, strictly increasing in log order; opaque to callers other than for comparison and resumption. */
  position: bigint;
  type: string;
  data: EventData;
  metadata: EventMetadata;
}

/** What a seal covers of one event: its place in the log and its chain hash (no data, no other metadata). */
export interface LoggedHash {
  id: string;
  streamId: string;
  revision: bigint;
  position: bigint;
  type: string;
  /** `metadata.hash`: the event's link in its stream's hash chain. */
  hash: string;
}

export interface AppendResult {
  /** Revision of the last event written. */
  nextExpectedRevision: bigint;
  /** Global position of the last event written. */
  position: bigint;
  events: RecordedEvent[];
}

/** One stream's part of a multi-stream append (EventStore.appendMany). */
export interface StreamAppend {
  streamId: string;
  events: NewEvent[];
  expected: ExpectedState;
}

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards';
  /** Inclusive start revision (forwards: from this up; backwards: from this down). */
  fromRevision?: bigint;
  maxCount?: number;
  /**
   * 'empty': a stream with no events reads as [] instead of throwing StreamNotFoundError. For
   * callers that treat the two alike (the aggregate loader: a new stream is its initial state),
   * so the store neither asks a second time whether the stream exists nor builds an error.
   */
  ifMissing?: 'throw' | 'empty';
}

export interface ReadAllOptions {
  /** Exclusive: return events strictly after this position. Omit to start at the beginning. */
  after?: bigint;
  maxCount?: number;
  /** Only events whose stream id starts with one of these prefixes. */
  streamPrefixes?: string[];
  /** Only events of these types. */
  types?: string[];
}

export interface SubscribeOptions {
  /** Exclusive checkpoint: deliver events strictly after this position. Omit for the beginning. */
  after?: bigint;
  /** Called once per event, in order; the next event waits for the returned promise. */
  onEvent: (event: RecordedEvent) => Promise<void>;
  /**
   * When given, adapters that read the log in pages hand over a whole page at
   * once (in order, never empty) instead of calling onEvent per event, so the
   * consumer can write it in one transaction; the others keep calling onEvent.
   */
  onPage?: (events: RecordedEvent[]) => Promise<void>;
  /** Called when the subscription fails irrecoverably (onEvent threw, store gone). */
  onError?: (err: Error) => void;
  /** Events fetched per catch-up page. */
  batchSize?: number;
}

export interface Subscription {
  /** Resolves once the subscription has stopped delivering. */
  stop(): Promise<void>;
  /** Position of the last event delivered (undefined before the first). */
  readonly lastPosition: bigint | undefined;
}

export interface EventStore {
  readonly kind: 'sqlite' | 'postgres' | 'kurrentdb';
  /**
   * Events per page a full replay (rebuild, replay check) reads, when the store knows better
   * than the replay's default of 5000 (a store across the network wants few round trips).
   */
  readonly replayPageSize?: number;
  /** Apply schema migrations / connect. Idempotent. */
  init(): Promise<void>;
  append(streamId: string, events: NewEvent[], expected: ExpectedState): Promise<AppendResult>;
  /**
   * Several streams' appends as one: all stored or none, each checked against its own expected
   * state (a conflict on any fails them all, naming its stream), in one transaction and one
   * commit. Positions follow the order given; each stream's hash chain is its own. Refused before
   * anything is stored: no part or a part with no events (RangeError), a stream or an event id in
   * two parts (TypeError). A replay with the same event ids is idempotent as for `append`.
   * Results in the order given. Optional: a store without it (KurrentDB) is appended to one
   * stream at a time by the caller.
   */
  appendMany?(appends: StreamAppend[]): Promise<AppendResult[]>;
  /** Throws StreamNotFoundError when the stream has no events (unless `ifMissing: 'empty'`). */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  /** Position of the last event in the log, or undefined when the log is empty. */
  headPosition(): Promise<bigint | undefined>;
  /**
   * Events in the log up to `until` (inclusive; the whole log when omitted), counted
   * by the database instead of read and parsed. Optional: callers fall back to reading.
   */
  countEvents?(until?: bigint): Promise<number>;
  /**
   * The events readAll({ after, maxCount }) returns, as their chain hashes and places only: the
   * sealer's read of every event, without parsing each one's data and metadata. Optional: callers
   * fall back to readAll.
   */
  readAllHashes?(options: { after?: bigint; maxCount: number }): Promise<LoggedHash[]>;
  /** Catch-up subscription to the global log; the caller stores its own checkpoint. */
  subscribeToAll(options: SubscribeOptions): Subscription;
  /**
   * Durable checkpoints that must survive a Redis wipe (sagas: re-running a saga
   * from 0 would repeat side effects). Stored in the event store's own database.
   */
  readCheckpoint(name: string): Promise<bigint | undefined>;
  writeCheckpoint(name: string, position: bigint): Promise<void>;
  /** Cheap liveness probe; throws UnavailableError when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
