import { driverCapabilities, knownDriverKinds } from '../drivers/driver-registry.js';
import { RedisIdempotencyStore } from '../http/idempotency.store.js';
import type { HttpPorts } from '../http/tokens.js';
import type { Runtime } from './runtime.js';

/**
 * The adapters behind each port of the HTTP edge, for a process that runs the
 * control plane (role api or all; a worker-role process serves no HTTP).
 */
export function httpPorts(rt: Runtime): HttpPorts {
  const cp = rt.controlPlane;
  if (!cp) throw new Error('the worker role serves no HTTP: it has no control plane');
  return {
    config: rt.config,
    log: rt.log,
    clock: { now: () => new Date() },
    store: cp.store,
    readModels: rt.readModels,
    // The driver registry says what a host URI declares without touching the machine;
    // URI policy (allowed dirs, unsafe libvirt transports) is passed here when the registry takes it.
    capabilities: { kinds: knownDriverKinds, probe: (driver, uri) => driverCapabilities(driver, uri) },
    hostQueries: cp.hostQueries,
    queues: rt.hub,
    projections: cp.projectionControl(),
    metrics: rt.metrics,
    idempotency: new RedisIdempotencyStore(
      rt.redis,
      (scope, key) => rt.keys.idempotency(scope, key),
      rt.config.idempotencyClaimMs,
      (err) => rt.log.warn({ err }, 'Idempotency-Key claim not renewed'),
    ),
    status: {
      pingRedis: async () => {
        await rt.redis.ping();
      },
      subscriptions: () => [{ name: 'sagas', position: cp.sagas.position }],
      servedHosts: () => rt.hosts.servedHosts(),
      hostServing: () => rt.hosts.degraded(),
      // Parked poison events per subscription: connect the SagaRunner/ProjectionRunner counters here.
      parked: () => ({}),
    },
    tokens: cp.tokens,
  };
}
