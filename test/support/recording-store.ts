import type {
  AppendResult,
  EventStore,
  ExpectedState,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamAppend,
  SubscribeOptions,
  Subscription,
} from '../../src/eventstore/event-store.port.js';
import { SqliteEventStore } from '../../src/eventstore/sqlite/sqlite.event-store.js';
import { tempDir } from './env.js';

export interface StreamRead {
  streamId: string;
  options: ReadStreamOptions;
  /** Events the store handed back. */
  returned: number;
}

/**
 * A real store with every stream read and append recorded, so a spec can
 * count what a component asked of the store. `beforeNextAppend` runs once,
 * just before the next append reaches the store: the window another writer
 * slips into.
 */
export class RecordingStore implements EventStore {
  readonly reads: StreamRead[] = [];
  readonly appends: Array<{ streamId: string; events: number; expected: ExpectedState; together?: string[] }> = [];
  beforeNextAppend: (() => Promise<void>) | undefined;

  constructor(readonly inner: EventStore) {}

  get kind(): EventStore['kind'] {
    return this.inner.kind;
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedState): Promise<AppendResult> {
    const hook = this.beforeNextAppend;
    this.beforeNextAppend = undefined;
    await hook?.();
    this.appends.push({ streamId, events: events.length, expected });
    return this.inner.append(streamId, events, expected);
  }

  /** Each stream's part is recorded as an append of its own, `together` naming the set; the hook runs once before the set. */
  async appendMany(appends: StreamAppend[]): Promise<AppendResult[]> {
    const hook = this.beforeNextAppend;
    this.beforeNextAppend = undefined;
    await hook?.();
    const together = appends.map((a) => a.streamId);
    for (const a of appends)
      this.appends.push({ streamId: a.streamId, events: a.events.length, expected: a.expected, together });
    if (!this.inner.appendMany) throw new Error(`${this.inner.kind} has no appendMany`);
    return this.inner.appendMany(appends);
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const read: StreamRead = { streamId, options, returned: 0 };
    this.reads.push(read);
    const events = await this.inner.readStream(streamId, options);
    read.returned = events.length;
    return events;
  }

  readsOf(streamId: string): StreamRead[] {
    return this.reads.filter((r) => r.streamId === streamId);
  }

  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.inner.readAll(options);
  }

  headPosition(): Promise<bigint | undefined> {
    return this.inner.headPosition();
  }

  subscribeToAll(options: SubscribeOptions): Subscription {
    return this.inner.subscribeToAll(options);
  }

  readCheckpoint(name: string): Promise<bigint | undefined> {
    return this.inner.readCheckpoint(name);
  }

  writeCheckpoint(name: string, position: bigint): Promise<void> {
    return this.inner.writeCheckpoint(name, position);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A SQLite store in a fresh temporary directory; `cleanup` closes it and removes the directory. */
export async function tempSqliteStore(): Promise<{ store: SqliteEventStore; cleanup: () => Promise<void> }> {
  const tmp = tempDir('vl-store-');
  const store = new SqliteEventStore({ file: `${tmp.dir}/events.db` });
  await store.init();
  return {
    store,
    cleanup: async () => {
      await store.close();
      tmp.cleanup();
    },
  };
}
