import type { Redis } from 'ioredis';
import { createHash, hkdfSync } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SnapshotOptions } from '../application/aggregate-snapshots.js';
import { hostDecider } from '../domain/host/host.decider.js';
import { networkDecider } from '../domain/network/network.decider.js';
import { projectDecider } from '../domain/project/project.decider.js';
import { vmDecider } from '../domain/vm/vm.decider.js';
import { loadOrCreateSealKey } from '../eventstore/seals/seal-key-file.js';

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

/**
 * The snapshots' MAC key, derived (HKDF-SHA256) from the seal key: the one secret every API
 * process of a deployment already holds, kept outside Redis and outside the store's directory
 * (mode 600, checked). A separate derivation, so a MAC never doubles as a seal signature.
 */
export function snapshotMacKey(sealKeyFile: string): Buffer {
  const der = loadOrCreateSealKey(sealKeyFile).privateKey.export({ format: 'der', type: 'pkcs8' });
  return Buffer.from(hkdfSync('sha256', der, 'virtledger', 'aggregate snapshots v1', 32));
}

/** The long-lived streams worth a snapshot: a VM's operations, a host's reservations, a project's admissions, a network's addresses. */
export function redisAggregateSnapshots(redis: Redis, prefix: string, macKey: Buffer, every?: number): SnapshotOptions {
  return {
    macKey,
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
