import { WrongExpectedVersionError } from '../eventstore/errors.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import type { Metrics } from './metrics.js';

/**
 * The store with every append timed into `virtledger_store_append_duration_seconds`
 * (commands, results, checkpoints and seals alike: whatever waits on the store).
 * Every other member is the store's own, bound to it.
 */
export function meteredStore(store: EventStore, metrics: Metrics): EventStore {
  const append: EventStore['append'] = async (streamId, events, expected) => {
    const t0 = performance.now();
    try {
      const result = await store.append(streamId, events, expected);
      metrics.observeAppend(store.kind, performance.now() - t0, 'ok');
      return result;
    } catch (err) {
      const outcome = err instanceof WrongExpectedVersionError ? 'conflict' : 'error';
      metrics.observeAppend(store.kind, performance.now() - t0, outcome);
      throw err;
    }
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'append') return append;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
