import type { RecordedEvent } from '../eventstore/event-store.port.js';

/** Writes of one event, committed atomically with the projection's checkpoint. */
export interface ProjectionTx {
  get<T>(key: string): Promise<T | undefined>;
  /**
   * The same read without a promise, offered by a tx that holds everything in memory
   * (a replay's fold): a replay reads once or twice per event, and a promise per read
   * was a visible share of it. Absent on the live transactions (their reads go to Redis).
   */
  peek?<T>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  /** Removes a record (a host's allocation for a VM that left it): a key a read model no longer holds. */
  del(key: string): void;
  /** Sorted-set index: member ordered by score. */
  index(key: string, score: number, member: string): void;
  /** Takes a member out of a sorted-set index (a VM deleted leaves the live indexes). */
  unindex(key: string, member: string): void;
}

export interface Projection {
  readonly name: string;
  /**
   * A promise when the writes wait on a read, or nothing when they were all made at once: a
   * replay's fold reads without a promise (`peek`), and a promise and an await per event were
   * a share of a replay's CPU and garbage. Callers await only a returned promise.
   */
  apply(event: RecordedEvent, tx: ProjectionTx): void | Promise<void>;
  /**
   * Whether apply may write anything for this event, from its stream and type alone (the same
   * guards apply starts with): a replay hands apply only these, so the read models that ignore an
   * event pay nothing for it (a replay check folds every read model from one read of the log, and
   * most events concern one of them). Must be true for every event apply writes for; absent, every
   * event is handed to apply.
   */
  handles?(event: Pick<RecordedEvent, 'streamId' | 'type'>): boolean;
  /**
   * Whether a key (relative to the namespace root, e.g. `vm:<id>`) belongs to this read model:
   * a rebuild swaps exactly these keys and a replay check compares exactly these.
   */
  owns(relativeKey: string): boolean;
  /**
   * A glob (relative, e.g. `host*`) that every key `owns` accepts matches: a scan for this read model's
   * keys (swap, replay check) lets Redis skip the other read models' keys instead of handing them all
   * to the client (`owns` still decides). Absent: every key of the namespace is looked at.
   */
  readonly keyPattern?: string;
}
