import { WrongExpectedVersionError } from '../eventstore/errors.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import type { Metrics } from './metrics.js';

/**
 * The store with every append (and appendMany, timed as one append) timed into `virtledger_store_append_duration_seconds`
 * (commands, results, checkpoints and seals alike: whatever waits on the store).
 * Every other member is the store's own, bound to it. `append` is looked up on the
 * store at each access (its wrapper is kept per function, not per access), so code that swaps it (a fault injected in a test) is still
 * what runs, and calling the method it replaced cannot loop back into itself.
 */
export function meteredStore(store: EventStore, metrics: Metrics): EventStore {
  const timed =
    <A extends unknown[], R>(append: (...args: A) => Promise<R>): ((...args: A) => Promise<R>) =>
    async (...args) => {
      const t0 = performance.now();
      try {
        const result = await append.apply(store, args);
        metrics.observeAppend(store.kind, performance.now() - t0, 'ok');
        return result;
      } catch (err) {
        const outcome = err instanceof WrongExpectedVersionError ? 'conflict' : 'error';
        metrics.observeAppend(store.kind, performance.now() - t0, outcome);
        throw err;
      }
    };
  // One wrapper per function the store holds, made on its first access: every store call went
  // through here and allocated a bound function (and `append` a closure) each time.
  const timedAppends = new WeakMap<object, unknown>();
  const bound = new WeakMap<object, unknown>();
  return new Proxy(store, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const isAppend = prop === 'append' || prop === 'appendMany';
      const wrappers = isAppend ? timedAppends : bound;
      const known = wrappers.get(value);
      if (known !== undefined) return known;
      const fn = value as (...a: unknown[]) => unknown;
      const wrapper = isAppend ? timed(fn as (...a: unknown[]) => Promise<unknown>) : fn.bind(target);
      wrappers.set(value, wrapper);
      return wrapper;
    },
  });
}
