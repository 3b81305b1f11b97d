import { join } from 'node:path';
import { OperationAborts } from '../workers/operation-aborts.js';
import { driverCapabilities, imageRefusalFor, knownDriverKinds } from '../drivers/driver-registry.js';
import { SealAudit } from '../eventstore/seals/seal-audit.js';
import { RedisIdempotencyStore } from '../http/idempotency.store.js';
import { RedisFixedWindowStorage } from '../http/redis-fixed-window.storage.js';
import type { HttpPorts } from '../http/tokens.js';
import type { KeyObject } from 'node:crypto';
import type { ControlPlane } from './control-plane.js';
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
    aggregates: cp.aggregates,
    sealAudit: new SealAudit(cp.store, sealKey(cp), rt.config.sealWitnessFile),
    readModels: rt.readModels,
    // The driver registry says what a host URI declares without touching the machine;
    // URI policy (allowed dirs, unsafe libvirt transports) is passed here when the registry takes it.
    // The driver registry says what a host URI declares without touching the machine, under the
    // host policy: directories under HOST_DIR_ROOTS, no libvirt transport that runs a program.
    capabilities: {
      kinds: knownDriverKinds,
      probe: (driver, uri) => driverCapabilities(driver, uri, rt.config),
      // A host without storage= keeps its catalog under DATA_DIR/hosts/<id>, as its worker does.
      imageRefusal: (h, image) => imageRefusalFor({ ...h, storageDir: join(rt.config.dataDir, 'hosts', h.id) }, image),
    },
    hostQueries: cp.hostQueries,
    consoles: cp.consoles,
    aborts: new OperationAborts(rt.hub),
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
      subscriptions: () => [{ name: 'sagas', position: cp.sagaPosition }],
      lease: () => ({
        owner: cp.lease.isOwner,
        holder: cp.lease.holder,
        ...(cp.lease.fence !== undefined ? { fence: cp.lease.fence } : {}),
      }),
      servedHosts: () => rt.hosts.servedHosts(),
      hostServing: () => rt.hosts.degraded(),
      parked: () =>
        Object.fromEntries([
          ['sagas', cp.sagas.parked],
          ...cp.projections.map((p) => [`projection-${p.projection.name}`, p.parked] as const),
        ]),
    },
    tokens: cp.tokens,
    ...(rt.config.rateLimitStore === 'redis'
      ? {
          rateLimitStorage: new RedisFixedWindowStorage(
            rt.redis,
            (throttler, tracker) => `${rt.config.redisPrefix}:ratelimit:${throttler}:${tracker}`,
            (err) => rt.log.warn({ err }, 'rate limit counted in memory: Redis did not answer'),
          ),
        }
      : {}),
  };
}

function sealKey(cp: ControlPlane): KeyObject {
  const key = cp.sealer.publicKey;
  // init() loads or makes the key before the control plane is handed out: no key is a bug, not a state.
  if (!key) throw new Error('the sealer has no key: ControlPlane.open() initialises it');
  return key;
}
