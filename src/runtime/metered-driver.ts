import type { HypervisorDriver } from '../drivers/hypervisor-driver.port.js';
import type { Metrics } from './metrics.js';

/** Members that are not calls into the hypervisor: a feed registration and the driver's own teardown. */
const NOT_VERBS = new Set<PropertyKey>(['watch', 'close', 'constructor', 'then']);

/**
 * The driver with every verb timed into `virtledger_driver_call_duration_seconds`
 * {driver, verb, outcome}: job steps, reconciliation sweeps (status, listDomains) and
 * host queries alike. Any method that answers a promise is a verb, so verbs added
 * with later features are measured without a change here.
 */
export function meteredDriver(driver: HypervisorDriver, kind: string, metrics: Metrics): HypervisorDriver {
  return new Proxy(driver, {
    // Looked up at each access: a method swapped on the driver (a fault injected in a test) is what runs.
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const fn = value as (...a: unknown[]) => unknown;
      if (NOT_VERBS.has(prop) || typeof prop !== 'string') return fn.bind(target);
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const out = fn.apply(target, args);
        if (!(out instanceof Promise)) return out;
        return out.then(
          (v) => {
            metrics.observeDriverCall(kind, prop, performance.now() - t0, true);
            return v;
          },
          (err: unknown) => {
            metrics.observeDriverCall(kind, prop, performance.now() - t0, false);
            throw err;
          },
        );
      };
    },
  });
}
