/**
 * Seal cost and verify speed (issue 13):
 *   node dist/bench/seals.js [--n 20000] [--store postgres://…?schema=…]
 * Appends n events to 50 streams (SQLite in a temp dir unless --store), seals every
 * 1000 events with the incremental sealer (the cost of one seal = what the log pays per
 * 1000 events), then runs the full verify (chains + Merkle roots + heads) over the log.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventStore } from '../src/eventstore/create-event-store.js';
import { dropSchemaIfCreated } from './pg-schema.js';
import type { EventStore, NewEvent } from '../src/eventstore/event-store.port.js';
import { parsePublicKey } from '../src/eventstore/seals/seal.js';
import { Sealer } from '../src/eventstore/seals/sealer.js';
import { verifyStore } from '../src/eventstore/seals/store-audit.js';
import { readWitness } from '../src/eventstore/seals/witness.js';

export interface SealsBenchResult {
  store: string;
  events: number;
  seals: number;
  /** Mean wall time of one seal (catching up 1000 events, root, sign, append, witness fsync). */
  msPerSeal: number;
  verifyEventsPerSecond: number;
}

function batch(n: number, i0: number): NewEvent[] {
  return Array.from({ length: n }, (_, k) => {
    const id = randomUUID();
    return {
      id,
      type: 'BenchNoted',
      data: { i: i0 + k, note: 'x'.repeat(64) },
      metadata: {
        principal: 'bench:seals',
        correlationId: id,
        causationId: id,
        at: new Date().toISOString(),
        schema: 1,
      },
    };
  });
}

export async function sealsBench(storeUrl: string | undefined, n: number): Promise<SealsBenchResult> {
  const dropStoreSchema = await dropSchemaIfCreated(storeUrl);
  const dir = mkdtempSync(join(tmpdir(), 'vl-seals-bench-'));
  const store: EventStore = createEventStore(storeUrl ?? 'sqlite:store/events.sqlite3', { dataDir: dir });
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const witnessFile = join(dir, 'witness', 'seals.ndjson');
  const sealer = new Sealer(store, {
    keyFile: join(dir, 'keys', 'seal.key'),
    witnessFile,
    everyEvents: 0,
    everyMs: 0,
    log: quiet,
  });
  try {
    await store.init();
    await sealer.start();
    let sealMs = 0;
    let seals = 0;
    for (let i = 0; i < n; i += 1000) {
      // 1000 events in 20 appends of 50 to rotating streams, then one seal.
      for (let j = 0; j < 1000 && i + j < n; j += 50)
        await store.append(`bench-${(i + j) % 50}`, batch(Math.min(50, n - i - j), i + j), 'any');
      const t0 = performance.now();
      if (await sealer.sealNow()) seals++;
      sealMs += performance.now() - t0;
    }
    const t0 = performance.now();
    const report = await verifyStore(store, {
      keys: [parsePublicKey(sealer.publicKeyBase64)],
      witness: readWitness(witnessFile),
    });
    const verifyMs = performance.now() - t0;
    if (!report.verified) throw new Error(`bench log did not verify: ${JSON.stringify(report.problem)}`);
    const events = report.count;
    return {
      store: store.kind,
      events,
      seals,
      msPerSeal: sealMs / Math.max(1, seals),
      verifyEventsPerSecond: events / (verifyMs / 1000),
    };
  } finally {
    await sealer.stop();
    await store.close();
    await dropStoreSchema().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printSeals(r: SealsBenchResult): void {
  console.log(`\nsection: seals (${r.store}, ${r.events} events, ${r.seals} seals)`);
  console.log(
    `  seal cost per 1000 events: ${r.msPerSeal.toFixed(1)} ms (catch-up, Merkle root, ed25519, append, witness fsync)`,
  );
  console.log(`  verify (chains + seals): ${r.verifyEventsPerSecond.toFixed(0)} events/s`);
}

if (process.argv[1]?.endsWith('seals.js')) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const n = Number(arg('n') ?? '20000');
  sealsBench(undefined, n)
    .then(printSeals)
    .then(async () => {
      const pgUrl = arg('store');
      if (pgUrl) printSeals(await sealsBench(pgUrl, n));
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
