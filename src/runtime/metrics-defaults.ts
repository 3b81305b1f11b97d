import { collectDefaultMetrics, Counter, type Registry } from 'prom-client';

/**
 * prom-client's process and Node.js families, minus the ones `promtool check
 * metrics` rejects: `nodejs_active_{handles,requests,resources}_total` are gauges
 * with a counter's `_total` suffix. Each is only the sum of the labelled family of
 * the same name without the suffix, so nothing is lost: `sum(…_active_handles)`.
 */
export function registerDefaultMetrics(registry: Registry, prefix: string): void {
  collectDefaultMetrics({ register: registry, prefix });
  for (const metric of registry.getMetricsAsArray()) {
    if (metric.name.endsWith('_total') && !(metric instanceof Counter)) registry.removeSingleMetric(metric.name);
  }
}
