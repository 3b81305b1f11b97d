import type { RecordedEvent, SubscribeOptions, Subscription } from './event-store.port.js';
import { SubscriptionControl } from './subscription-control.js';
import { sleep, type WakeSignal } from './wake-signal.js';

export interface PollingSource {
  /**
   * Events strictly after `after`, in position order, at most `limit`; only events that can
   * no longer be preceded; as a read begun at wake version `seen` or later would see them
   * (a store's SharedTail answers from one read for every subscriber).
   */
  readPage(after: bigint | undefined, limit: number, seen: number): Promise<RecordedEvent[]>;
  wake: WakeSignal;
  pollIntervalMs: number;
  giveUpAfterMs?: number;
}

/** Catch-up in pages from the checkpoint, then live: each empty/short page waits for a wake-up or the poll interval. */
export function startPollingSubscription(
  source: PollingSource,
  options: SubscribeOptions,
  onFinished: (sub: Subscription) => void,
): Subscription {
  const ctl = new SubscriptionControl(options, source.giveUpAfterMs);
  const loop = async (): Promise<void> => {
    let backoffMs = 100;
    // The first page is read as of now, as a read of its own would be: appends another process made
    // since the shared tail last looked must not wait for the next poll.
    source.wake.advance(source.wake.current);
    while (!ctl.isStopped) {
      const seen = source.wake.current;
      let page: RecordedEvent[];
      try {
        page = await source.readPage(ctl.cursor, ctl.batchSize, seen);
        ctl.markHealthy();
        backoffMs = 100;
      } catch (err) {
        if (!ctl.shouldRetry(err)) return;
        await sleep(backoffMs, ctl.signal);
        backoffMs = Math.min(backoffMs * 2, 5_000);
        continue;
      }
      if (!(await ctl.deliverPage(page))) return;
      if (page.length >= ctl.batchSize) continue;
      // A poll (no wake-up came): the next read must be a new one, not the one already seen.
      if (!(await source.wake.wait(seen, source.pollIntervalMs, ctl.signal))) source.wake.advance(seen);
    }
  };
  return ctl.run(loop, () => onFinished(ctl));
}
