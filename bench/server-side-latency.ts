import type { EventStore } from '../src/eventstore/event-store.port.js';
import type { Metrics } from '../src/runtime/metrics.js';

/**
 * The server's own view of a create's latency, beside the client's POST → 202: the HTTP edge's
 * request time as /metrics records it (from the request-timing middleware, after the body is read,
 * to the response finished) and each store append's (or appendMany's) time (post to the writer thread, group commit
 * and fsync, answer). On a loaded machine the client's figure also holds the client thread's own
 * wait for a core, which is not the server's. Wraps the instances' methods until stop() puts them
 * back, as countStoreCalls does. Appends are timed on the store, not from the append metric: the
 * store is a metering proxy, and a wrapper set on it (countStoreCalls) is metered a second time.
 */
export function watchServerLatency(
  metrics: Metrics,
  store: EventStore,
): { stop: () => { postMs: number[]; appendMs: number[] } } {
  const postMs: number[] = [];
  const appendMs: number[] = [];
  const observeRequest = metrics.observeRequest;
  metrics.observeRequest = (method, route, status, ms) => {
    if (method === 'POST' && route === '/v1/vms' && ms !== undefined) postMs.push(ms);
    observeRequest.call(metrics, method, route, status, ms);
  };
  const append = store.append;
  store.append = async (...args) => {
    const t0 = performance.now();
    try {
      return await append.apply(store, args);
    } finally {
      appendMs.push(performance.now() - t0);
    }
  };
  // A multi-stream append (a reservation with its VM event) is one commit: timed as one append.
  const appendMany = store.appendMany;
  if (appendMany)
    store.appendMany = async (...args) => {
      const t0 = performance.now();
      try {
        return await appendMany.apply(store, args);
      } finally {
        appendMs.push(performance.now() - t0);
      }
    };
  return {
    stop: () => {
      metrics.observeRequest = observeRequest;
      store.append = append;
      if (appendMany) store.appendMany = appendMany;
      return { postMs, appendMs };
    },
  };
}
