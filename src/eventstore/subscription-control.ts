import type { RecordedEvent, SubscribeOptions, Subscription } from './event-store.port.js';
import { UnavailableError } from './errors.js';

/** How long a subscription keeps retrying an unreachable store before it gives up and reports onError. */
export const DEFAULT_GIVE_UP_AFTER_MS = 30_000;

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * The delivery rules every adapter's subscription shares: strictly increasing positions,
 * each event once, the next one only after onEvent's promise settles, stop on the first
 * handler failure, and stop() that waits for the handler in flight.
 */
export class SubscriptionControl implements Subscription {
  private stopped = false;
  private delivered: bigint | undefined;
  private readonly abortController = new AbortController();
  private done: Promise<void> = Promise.resolve();
  private unavailableSince: number | undefined;
  private readonly stopHooks: Array<() => Promise<void> | void> = [];
  /**
   * True while the handler's synchronous part runs (up to its first await): a stop() called then is
   * the handler stopping its own subscription. An AsyncLocalStorage told that across awaits too, but
   * one ALS.run turns on Node 20's promise hooks for the whole process, for good: every promise of
   * every request then paid an init, a before and an after hook (under the load scenario, seconds of
   * promiseAfterHook in one stretch of the server's profile). A handler that stops its own
   * subscription after an await must not wait for that stop (`void sub.stop()`, as the SSE feed does).
   */
  private handlerStarting = false;

  constructor(
    private readonly options: SubscribeOptions,
    private readonly giveUpAfterMs: number = DEFAULT_GIVE_UP_AFTER_MS,
  ) {}

  get lastPosition(): bigint | undefined {
    return this.delivered;
  }

  /** Exclusive position to resume from: the last delivered event, else the caller's checkpoint. */
  get cursor(): bigint | undefined {
    return this.delivered ?? this.options.after;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  get batchSize(): number {
    const n = this.options.batchSize ?? 100;
    return Number.isInteger(n) && n > 0 ? n : 100;
  }

  onStop(hook: () => Promise<void> | void): void {
    this.stopHooks.push(hook);
  }

  /** Starts the adapter's loop; a loop that throws ends the subscription through onError. */
  run(loop: () => Promise<void>, onFinished: () => void): this {
    this.done = Promise.resolve()
      .then(loop)
      .catch((err: unknown) => this.fail(err))
      .finally(onFinished);
    return this;
  }

  /** Delivers one event; returns false when the subscription has ended (stopped or handler failed). */
  async deliver(event: RecordedEvent): Promise<boolean> {
    if (this.stopped) return false;
    const cursor = this.cursor;
    if (cursor !== undefined && event.position <= cursor) return true;
    try {
      await this.callHandler(() => this.options.onEvent(event));
    } catch (err) {
      this.fail(err);
      return false;
    }
    this.delivered = event.position;
    return !this.stopped;
  }

  /** Delivers a page: to onPage in one call when the subscriber takes pages, else event by event. */
  async deliverPage(page: RecordedEvent[]): Promise<boolean> {
    const onPage = this.options.onPage;
    if (!onPage) {
      for (const event of page) if (!(await this.deliver(event))) return false;
      return !this.stopped;
    }
    if (this.stopped) return false;
    const cursor = this.cursor;
    const fresh = cursor === undefined ? page : page.filter((e) => e.position > cursor);
    if (fresh.length === 0) return true;
    try {
      await this.callHandler(() => onPage(fresh));
    } catch (err) {
      this.fail(err);
      return false;
    }
    this.delivered = fresh[fresh.length - 1]!.position;
    return !this.stopped;
  }

  /** Runs the subscriber's handler, marking its synchronous part (see handlerStarting). */
  private callHandler(handler: () => Promise<void>): Promise<void> {
    this.handlerStarting = true;
    try {
      return handler();
    } finally {
      this.handlerStarting = false;
    }
  }

  /**
   * Decides what a store error means for the loop: true = wait and retry (the store is
   * unreachable but has not been for longer than the give-up budget); otherwise the
   * subscription has been failed and the loop must end.
   */
  shouldRetry(err: unknown): boolean {
    if (this.stopped) return false;
    if (err instanceof UnavailableError) {
      const now = Date.now();
      this.unavailableSince ??= now;
      if (now - this.unavailableSince < this.giveUpAfterMs) return true;
    }
    this.fail(err);
    return false;
  }

  /** Call after a successful read so the give-up budget counts consecutive failures only. */
  markHealthy(): void {
    this.unavailableSince = undefined;
  }

  fail(err: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abortController.abort();
    void this.runStopHooks();
    try {
      this.options.onError?.(toError(err));
    } catch {
      // A throwing onError must not turn into an unhandled rejection of the loop.
    }
  }

  async stop(): Promise<void> {
    // Read before the first await below: the handler's synchronous part ends with it.
    const fromOwnHandler = this.handlerStarting;
    if (!this.stopped) {
      this.stopped = true;
      this.abortController.abort();
      await this.runStopHooks();
    }
    // Called from inside our own onEvent: waiting for the loop would wait for ourselves.
    if (fromOwnHandler) return;
    await this.done;
  }

  private async runStopHooks(): Promise<void> {
    const hooks = this.stopHooks.splice(0);
    for (const hook of hooks) {
      try {
        await hook();
      } catch {
        // Best effort: the loop also checks isStopped.
      }
    }
  }
}
