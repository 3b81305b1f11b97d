import { createHmac, timingSafeEqual } from 'node:crypto';
import type { RecordedEvent } from '../eventstore/event-store.port.js';

/** Where snapshots are kept: any key-value store (Redis in the runtime). Losing them only costs a full fold. */
export interface SnapshotStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}

export interface SnapshotOptions {
  store: SnapshotStore;
  /** Which deciders are snapshotted, by name (the name is part of the key: one stream, one decider). */
  deciders: ReadonlyMap<object, string>;
  /**
   * What the snapshotted states were folded by (e.g. a digest of the domain code). A snapshot
   * written by other code is ignored: an evolve that changed must not inherit an old state.
   */
  codeVersion: string;
  /** A snapshot is written when a stream's revision crosses a multiple of this. */
  every?: number;
  /**
   * The key of the HMAC-SHA256 each snapshot carries, kept outside the snapshot store: whoever
   * can write to Redis could otherwise plant a forged state on a genuine anchor (the event at
   * the snapshot's revision with its true hash). A snapshot whose MAC does not verify, under
   * this key and for this very key name, is ignored.
   */
  macKey: Buffer;
}

interface Snapshot {
  v: string;
  revision: string;
  /** The hash of the event at `revision`: the snapshot is used only if the store still has that very event. */
  hash: string;
  state: unknown;
  /** HMAC-SHA256 (hex) of the key name and the snapshot's JSON without this field. */
  mac?: string;
}

export const DEFAULT_SNAPSHOT_EVERY = 500;

/**
 * Snapshots of aggregate states for cold loads (a restart, a state dropped from the
 * cache, another API process): the stream is read from the snapshot's revision, not
 * from its first event. A snapshot is trusted only when the event at its revision is
 * still there with the same hash, only by the code that wrote it, and only with a MAC
 * made by a holder of the key.
 */
export class AggregateSnapshots {
  private readonly every: number;

  constructor(private readonly options: SnapshotOptions) {
    this.every = options.every ?? DEFAULT_SNAPSHOT_EVERY;
  }

  private key(decider: object, streamId: string): string | undefined {
    const name = this.options.deciders.get(decider);
    return name === undefined ? undefined : `${name}:${streamId}`;
  }

  /** The snapshot to start from, or undefined (none, another decider's, other code's, unreadable). */
  async read(
    decider: object,
    streamId: string,
  ): Promise<{ revision: bigint; hash: string; state: unknown } | undefined> {
    const key = this.key(decider, streamId);
    if (!key) return undefined;
    try {
      const raw = await this.options.store.get(key);
      if (!raw) return undefined;
      const { mac, ...body } = JSON.parse(raw) as Snapshot;
      if (typeof mac !== 'string' || !this.verify(key, JSON.stringify(body), mac)) return undefined;
      const snap = body as Snapshot;
      if (snap.v !== this.options.codeVersion) return undefined;
      return { revision: BigInt(snap.revision), hash: snap.hash, state: snap.state };
    } catch {
      return undefined;
    }
  }

  /** Whether folding from `from` (exclusive) to `to` crossed a snapshot point. */
  due(from: bigint | undefined, to: bigint): boolean {
    const every = BigInt(this.every);
    return from === undefined ? to + 1n >= every : to / every > from / every;
  }

  /** Best effort: a snapshot that is not written only means a longer fold later. */
  write(decider: object, streamId: string, state: unknown, last: RecordedEvent): void {
    const key = this.key(decider, streamId);
    if (!key) return;
    const snap: Snapshot = {
      v: this.options.codeVersion,
      revision: last.revision.toString(),
      hash: last.metadata.hash,
      state,
    };
    const body = JSON.stringify(snap);
    // The MAC goes last, as one more field: a reader parses, takes it out and re-serialises the
    // rest, which gives back `body` exactly (JSON.stringify keeps the parsed key order).
    const signed = `${body.slice(0, -1)},"mac":"${this.mac(key, body)}"}`;
    this.options.store.set(key, signed).catch(() => undefined);
  }

  private mac(key: string, body: string): string {
    return createHmac('sha256', this.options.macKey).update(key).update('\n').update(body).digest('hex');
  }

  private verify(key: string, body: string, mac: string): boolean {
    const want = Buffer.from(this.mac(key, body), 'hex');
    const got = Buffer.from(mac, 'hex');
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
