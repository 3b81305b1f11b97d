/**
 * A wake-up hint for subscriptions: "something may have been appended". Never the
 * source of truth — a missed or spurious notify only costs latency, because every
 * waiter also times out and polls.
 */
export class WakeSignal {
  private version = 0;
  private readonly waiters = new Set<() => void>();

  /** Read before querying; pass to wait() so a notify that lands mid-query is not lost. */
  get current(): number {
    return this.version;
  }

  notify(): void {
    this.version++;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /** Resolves on a notify after `seenVersion`, after `timeoutMs`, or on abort. */
  wait(seenVersion: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.version !== seenVersion || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
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
