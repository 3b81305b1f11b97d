import type { SubscribeOptions, Subscription } from '../event-store.port.js';
import { SubscriptionControl } from '../subscription-control.js';
import { sleep } from '../wake-signal.js';
import type { KurrentClientLike, KurrentFilter, KurrentSubscriptionHandle } from './kurrentdb.client.js';
import { mapKurrentError } from './kurrentdb.errors.js';
import { isUserStream, toRecordedEvent } from './kurrentdb.records.js';

/**
 * Catch-up subscription to $all through the client's own subscribeToAll, resumed after
 * the last delivered commit position. Iterating the subscription pulls one event at a
 * time, so the next event waits for onEvent. If the server goes away, it resubscribes
 * from the last delivered position until the give-up budget runs out.
 *
 * The server filters out system streams and the subscription requires the leader. It has
 * no deadline: it is meant to stay open, client 1.3.1 overrides any deadline on it with
 * Infinity, and a dead connection is noticed by gRPC keep-alive (10 s by default) and
 * ends in the resubscribe loop below.
 */
export function startKurrentSubscription(
  client: KurrentClientLike,
  options: SubscribeOptions,
  settings: { giveUpAfterMs: number | undefined; filter: KurrentFilter },
  onFinished: (sub: Subscription) => void,
): Subscription {
  const ctl = new SubscriptionControl(options, settings.giveUpAfterMs);
  let current: KurrentSubscriptionHandle | undefined;
  ctl.onStop(async () => {
    await current?.unsubscribe();
  });

  const loop = async (): Promise<void> => {
    let backoffMs = 200;
    while (!ctl.isStopped) {
      const cursor = ctl.cursor;
      try {
        current = client.subscribeToAll({
          fromPosition: cursor === undefined ? 'start' : { commit: cursor, prepare: cursor },
          filter: settings.filter,
          requiresLeader: true,
        });
        for await (const resolved of current) {
          ctl.markHealthy();
          backoffMs = 200;
          const record = resolved.event;
          // Positions at or before the cursor can come back after a resubscribe; deliver() skips them.
          if (!record || !isUserStream(record.streamId)) continue;
          if (!(await ctl.deliver(toRecordedEvent(record)))) return;
        }
      } catch (err) {
        if (ctl.isStopped) return;
        if (!ctl.shouldRetry(mapKurrentError(err, { operation: 'subscribeToAll' }))) return;
      } finally {
        if (ctl.isStopped) await current?.unsubscribe().catch(() => undefined);
      }
      // The server ended the subscription (or it failed transiently): resume after a pause.
      await sleep(backoffMs, ctl.signal);
      backoffMs = Math.min(backoffMs * 2, 5_000);
    }
  };
  return ctl.run(loop, () => onFinished(ctl));
}
