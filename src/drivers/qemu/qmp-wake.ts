import type { QmpClient } from './qmp.client.js';
import type { QmpEvent } from './qmp.types.js';

/**
 * Wakes a waiter on the next of the named QMP events, on the caller's abort, or after a
 * timeout (the poll that remains as a fallback); an event that lands between two waits is not
 * lost. Waiting on QEMU's own events instead of a poll step alone answers as soon as QEMU
 * changes state, which matters most on a loaded host where every timer fires late.
 */
export class QmpWake {
  /** The last of the named events QEMU sent. */
  last: QmpEvent | undefined;
  private pending = false;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly onAbort = (): void => this.signalChange();

  constructor(
    c: QmpClient,
    events: readonly string[],
    private readonly signal?: AbortSignal,
  ) {
    this.unsubscribe = c.onEvent((ev) => {
      if (!events.includes(ev.event)) return;
      this.last = ev;
      this.signalChange();
    });
    signal?.addEventListener('abort', this.onAbort);
  }

  next(timeoutMs: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), timeoutMs);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
    });
  }

  close(): void {
    this.unsubscribe();
    this.signal?.removeEventListener('abort', this.onAbort);
    this.wake?.();
  }

  private signalChange(): void {
    this.pending = true;
    this.wake?.();
  }
}
