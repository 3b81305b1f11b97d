/**
 * A wake-up hint for subscriptions: "something may have been appended". Never the
 * source of truth — a missed or spurious notify only costs latency, because every
 * waiter also times out and polls.
 *
 * The version doubles as a freshness mark for reads shared between subscriptions
 * (shared-tail.ts): a read begun at version V has seen every append whose notify
 * came at or before V.
 */
export class WakeSignal {
  private version = 0;
  private readonly waiters = new Set<() => void>();
  /**
   * The waits in progress of each caller's abort signal, ended by one `abort` listener per signal, added
   * at its first wait: a live subscription waits again after every append (every subscription of the
   * process, on every append), and adding and removing an EventTarget listener each time (Node validates
   * the options object each time) was about 1 % of the main thread in the create bench.
   */
  private readonly aborts = new WeakMap<AbortSignal, Set<() => void>>();

  /** Read before querying; pass to wait() so a notify that lands mid-query is not lost. */
  get current(): number {
    return this.version;
  }

  notify(): void {
    this.version++;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /**
   * A poll (a wait that timed out): moves the version past `seenVersion` without waking
   * anyone, so that the poller's next read is one begun after its wait, not a shared read
   * from before it. When someone already moved it, their fresher read is good enough.
   */
  advance(seenVersion: number): void {
    if (this.version === seenVersion) this.version++;
  }

  /** Resolves on a notify after `seenVersion` (true), after `timeoutMs` or on abort (false). */
  wait(seenVersion: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.version !== seenVersion) return Promise.resolve(true);
    const onAbort = this.abortsOf(signal);
    return new Promise((resolve) => {
      const finish = (notified: boolean): void => {
        clearTimeout(timer);
        onAbort.delete(aborted);
        this.waiters.delete(woken);
        resolve(notified);
      };
      const woken = (): void => finish(true);
      const aborted = (): void => finish(false);
      const timer = setTimeout(aborted, timeoutMs);
      onAbort.add(aborted);
      this.waiters.add(woken);
    });
  }

  private abortsOf(signal: AbortSignal): Set<() => void> {
    let set = this.aborts.get(signal);
    if (!set) {
      const waits = new Set<() => void>();
      signal.addEventListener(
        'abort',
        () => {
          for (const aborted of [...waits]) aborted();
        },
        { once: true },
      );
      this.aborts.set(signal, waits);
      set = waits;
    }
    return set;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
