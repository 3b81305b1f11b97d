import type { RecordedEvent } from '../eventstore/event-store.port.js';
import type { ProjectionControl } from './tokens.js';

/** Where one accepted command's last event landed: its stream, its revision there, its log position. */
export type Write = Pick<RecordedEvent, 'streamId' | 'revision' | 'position'>;

/** Entries remembered per kind at most; the least recently written are forgotten first. */
export const RECENT_WRITES_LIMIT = 20_000;

/**
 * A map that forgets its least recently set keys past `limit` (Map keeps insertion
 * order, and a set re-inserts). Forgetting is safe: a forgotten write is one the
 * read model applied long ago, in all likelihood, and otherwise the read shows the
 * read model as it is, as before read-your-writes.
 */
class Recent<V> {
  private readonly map = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size <= this.limit) return;
    const oldest = this.map.keys().next();
    if (!oldest.done) this.map.delete(oldest.value);
  }

  /** Drops `key` only if it still holds `value` (a newer write stays). */
  forget(key: string, value: V): void {
    if (this.map.get(key) === value) this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }
}

/**
 * Read-your-writes on the read side. A command's 202 answers once its events are
 * durable in the store; it does not wait for the read models. This process remembers
 * what it accepted (per stream, per operation, per principal, bounded), and a read
 * that could show one of those writes waits — with a deadline — until the `vms` read
 * model applied it: from this process's runner when it owns the projections, from the
 * owner's checkpoint when it is a standby (ProjectionControl decides which). A read
 * of something this process did not write does not wait.
 */
export class ReadYourWrites {
  private readonly streams: Recent<Write>;
  private readonly operations: Recent<Write>;
  private readonly principals: Recent<Write>;
  /** Reads held against a write this process accepted (until the read model had it), and those whose deadline passed first. */
  readonly counts = { held: 0, late: 0 };

  constructor(
    private readonly projections: ProjectionControl,
    /** How long a read waits for its write before answering what the read model has (or its own fallback). */
    readonly waitMs = 3000,
    limit = RECENT_WRITES_LIMIT,
  ) {
    this.streams = new Recent(limit);
    this.operations = new Recent(limit);
    this.principals = new Recent(limit);
  }

  /**
   * A command this process accepted for `principal`: `events` are what it appended
   * (in order, to one stream). Every operation they name (the command's own, one it
   * superseded) is remembered with the last of them.
   */
  wrote(principal: string, events: readonly RecordedEvent[]): Write | undefined {
    const last = events[events.length - 1];
    if (!last) return undefined;
    const w: Write = { streamId: last.streamId, revision: last.revision, position: last.position };
    this.streams.set(w.streamId, w);
    this.principals.set(principal, w);
    for (const e of events) {
      const op = (e.data as { operationId?: unknown } | null)?.operationId;
      if (typeof op === 'string') this.operations.set(op, w);
    }
    return w;
  }

  /** The last write this process accepted on `streamId`, if it still remembers one. */
  lastWrite(streamId: string): Write | undefined {
    return this.streams.get(streamId);
  }

  /**
   * A read of one stream's record: resolves true once the read model shows this
   * process's last write to it (at once when there is none, or `seenRevision` is
   * already there), false when the deadline passed first.
   */
  async stream(streamId: string, seenRevision?: bigint): Promise<boolean> {
    const w = this.streams.get(streamId);
    if (!w || (seenRevision !== undefined && seenRevision >= w.revision)) return true;
    return this.settle(this.streams, streamId, w, this.projections.waitForEvent(w, this.waitMs, ['vms']));
  }

  /** A read of one operation: waits for the last write this process accepted that names it. */
  operation(operationId: string): Promise<boolean> {
    const w = this.operations.get(operationId);
    if (!w) return Promise.resolve(true);
    return this.settle(this.operations, operationId, w, this.projections.waitForEvent(w, this.waitMs, ['vms']));
  }

  /**
   * A list read by `principal`: waits until the read model applied the log up to the
   * last command this process accepted from that principal (the runner applies the
   * log in order, so every earlier one of theirs is in too).
   */
  principal(principal: string): Promise<boolean> {
    const w = this.principals.get(principal);
    if (!w) return Promise.resolve(true);
    return this.settle(this.principals, principal, w, this.projections.waitFor(w.position, this.waitMs, ['vms']));
  }

  /** Once seen applied, a write is forgotten: the next read of it costs nothing. */
  private async settle(map: Recent<Write>, key: string, w: Write, wait: Promise<boolean>): Promise<boolean> {
    this.counts.held++;
    const ok = await wait;
    if (ok) map.forget(key, w);
    else this.counts.late++;
    return ok;
  }

  /** Remembered entries per kind (for tests and /metrics). */
  get size(): { streams: number; operations: number; principals: number } {
    return { streams: this.streams.size, operations: this.operations.size, principals: this.principals.size };
  }
}
