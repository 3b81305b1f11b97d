import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EventStore } from '../src/eventstore/event-store.port.js';
import type { MaintenanceDeps } from '../src/projections/projection-rebuilds.js';
import type { ProjectionRunner } from '../src/projections/projection-runner.js';
import type { ReadModelKeys } from '../src/projections/read-model.keys.js';

/** Starts the live runners and returns once each has applied the log up to `head` (a bench, not a test: it polls). */
export async function catchUp(runners: ProjectionRunner[], head: bigint): Promise<void> {
  await Promise.all(runners.map((r) => r.start()));
  while (runners.some((r) => r.position === undefined || r.position < head)) await sleep(20);
}

/** What a rebuild or a replay check needs, over live runners that run in this process (no cluster pause). */
export function maintenanceDeps(
  store: EventStore,
  redis: Redis,
  keys: ReadModelKeys,
  log: Logger,
  runners: ProjectionRunner[],
): MaintenanceDeps {
  const vms = runners.find((r) => r.projection.name === 'vms')!;
  return {
    store,
    redis,
    keys,
    log,
    runner: (name) => runners.find((r) => r.projection.name === name),
    pause: (runner, fn) => runner.paused(fn),
    waitForOperations: (p) => vms.waitFor(p, 3000),
  };
}
