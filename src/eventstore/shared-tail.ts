import type { RecordedEvent } from './event-store.port.js';
import type { WakeSignal } from './wake-signal.js';

/** Reads the global log: events strictly after `after`, in position order, at most `limit`, none that can still be preceded. */
export type ReadLogPage = (after: bigint | undefined, limit: number) => Promise<RecordedEvent[]>;

/** Events the window keeps at most: a subscriber further behind reads the log on its own. */
export const SHARED_TAIL_EVENTS = 2_000;

/**
 * The end of the global log, read once for every subscription of one store.
 *
 * Each commit wakes every subscriber (saga runner, each live projection, SSE clients…);
 * each used to read and parse the same new events. Here they share one window: every
 * visible event with a position in (start, end], in order, as the reads below returned
 * them. A subscriber whose cursor is inside the window is answered from it; when it needs
 * fresher events, one read after `end` extends the window for all (the subscribers woken
 * by the same commits wait for that one read). A subscriber behind the window (catching
 * up, resumed from an old checkpoint, slower than the window is long) reads on its own.
 *
 * Why the window has no gap: it only grows by reads of "every visible event after end",
 * and a read never returns an event that an earlier-committed one could still precede
 * (the contract of ReadLogPage, gap-safe on PostgreSQL), so nothing can later appear
 * inside (start, end]. Freshness: an extension records the wake version at which it
 * began; a subscriber that saw version V is answered only by a window known complete as
 * of V or later, exactly what its own read begun after V would have returned.
 *
 * The events are shared by every subscriber: they are frozen so that none can change
 * what the others see (the stored hash covers them as written, too).
 */
export class SharedTail {
  private events: RecordedEvent[] = [];
  /** Exclusive lower bound of the window; undefined until a subscriber with a cursor asks. */
  private start: bigint | undefined;
  private end: bigint | undefined;
  /** The window held every visible event as of this wake version (a read begun then came back short). */
  private completeAt = -1;
  private extending: Promise<void> | undefined;
  /** Reads of the log made for the window, and pages answered from it without one (tests, bench). */
  readonly stats = { reads: 0, shared: 0, own: 0 };

  constructor(
    private readonly read: ReadLogPage,
    private readonly wake: WakeSignal,
    private readonly maxEvents = SHARED_TAIL_EVENTS,
  ) {}

  /**
   * What `read(after, limit)` begun at wake version `seen` or later would return: the
   * events after `after`, at most `limit`; fewer than `limit` only when that is all
   * there was to see.
   */
  async readPage(after: bigint | undefined, limit: number, seen: number): Promise<RecordedEvent[]> {
    for (;;) {
      if (after === undefined || (this.start !== undefined && after < this.start)) {
        this.stats.own++;
        return this.read(after, limit);
      }
      if (this.extending) {
        // One read at a time moves the window; whoever waited for it looks again. Its
        // failure is every waiter's failure (each retries with its own backoff).
        await this.extending;
        continue;
      }
      if (this.start === undefined || this.end === undefined || after > this.end) {
        // This cursor is past the window (none yet, or a stale one that a subscriber reading on its
        // own overtook): the window starts again here; anyone left in the old one reads on its own
        // until it reaches the new one.
        this.events = [];
        this.start = after;
        this.end = after;
        this.completeAt = -1;
      }
      const page = this.after(after, limit);
      if (page.length === limit || this.completeAt >= seen) {
        this.stats.shared++;
        return page;
      }
      await this.extend(limit);
    }
  }

  /** Forgets the window (the store closes). */
  clear(): void {
    this.events = [];
    this.start = undefined;
    this.end = undefined;
    this.completeAt = -1;
  }

  private after(position: bigint, limit: number): RecordedEvent[] {
    // Binary search: the first event strictly after `position`.
    let lo = 0;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.events[mid]!.position <= position) lo = mid + 1;
      else hi = mid;
    }
    return this.events.slice(lo, lo + limit);
  }

  private extend(limit: number): Promise<void> {
    const from = this.end;
    const version = this.wake.current;
    this.stats.reads++;
    this.extending = this.read(from, limit)
      .then((page) => {
        for (const e of page) {
          // Defensive: a page is after `from` and ordered; anything else would break the window.
          if (this.end !== undefined && e.position <= this.end) continue;
          this.events.push(freezeEvent(e));
          this.end = e.position;
        }
        if (page.length < limit) this.completeAt = Math.max(this.completeAt, version);
        this.trim();
      })
      .finally(() => {
        this.extending = undefined;
      });
    return this.extending;
  }

  /** Drops the oldest events in chunks (not one per read): a subscriber still there then reads on its own. */
  private trim(): void {
    if (this.events.length <= this.maxEvents * 1.5) return;
    const drop = this.events.length - this.maxEvents;
    this.start = this.events[drop - 1]!.position;
    this.events = this.events.slice(drop);
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}

function freezeEvent(e: RecordedEvent): RecordedEvent {
  deepFreeze(e.data);
  deepFreeze(e.metadata);
  return Object.freeze(e);
}
