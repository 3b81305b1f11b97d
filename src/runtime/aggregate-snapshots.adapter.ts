import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SnapshotOptions } from '../application/aggregate-snapshots.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { networkDecider } from '../domain/network/network.decider.js';
import { projectDecider } from '../domain/project/project.decider.js';
import { vmDecider } from '../domain/vm/vm.decider.js';

/**
 * A digest of the compiled domain code (deciders, evolve functions, upcasters): a
 * snapshot folded by other code is not used, so a deploy that changes how a state
 * is folded starts from the events again instead of inheriting an old shape.
 */
export function domainCodeDigest(dir = fileURLToPath(new URL('../domain/', import.meta.url))): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js') && !entry.name.endsWith('.spec.js'))
        hash.update(entry.name).update(readFileSync(path));
    }
  };
  walk(dir);
  return hash.digest('hex').slice(0, 16);
}

/** The long-lived streams worth a snapshot: a VM's operations, a host's reservations, a project's admissions, a network's addresses. */
export function redisAggregateSnapshots(redis: Redis, prefix: string, every?: number): SnapshotOptions {
  return {
    store: {
      get: async (key) => (await redis.get(`${prefix}:snap:${key}`)) ?? undefined,
      set: async (key, value) => void (await redis.set(`${prefix}:snap:${key}`, value)),
    },
    deciders: new Map<object, string>([
      [vmDecider, 'vm'],
      [hostDecider, 'host'],
      [projectDecider, 'project'],
      [networkDecider, 'network'],
    ]),
    codeVersion: domainCodeDigest(),
    ...(every !== undefined ? { every } : {}),
  };
}
