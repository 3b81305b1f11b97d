import { setTimeout as sleep } from 'node:timers/promises';
import { replayCheck } from '../src/projections/replay-check.js';
import type { EventStore } from '../src/eventstore/event-store.port.js';
import type { Runtime } from '../src/runtime/runtime.js';

async function rawReadBaseline(store: EventStore): Promise<{ events: number; perSecond: number }> {
  const t0 = performance.now();
  let events = 0;
  let after: bigint | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 2000 });
    events += page.length;
    if (page.length < 2000) break;
    after = page[page.length - 1]!.position;
  }
  return { events, perSecond: events / ((performance.now() - t0) / 1000) };
}

export interface RebuildFigure {
  projection: string;
  events: number;
  ms: number;
  perSecond: number;
}

export interface ReplayFigures {
  /** Baseline: the whole log read in pages of 2000, nothing done with it. */
  rawRead: { events: number; perSecond: number };
  rebuilds: RebuildFigure[];
  check: { ms: number; events: number; records: number; consistent: boolean };
}

/**
 * Full rebuilds through the real path (count, replay from position 0 into a
 * shadow, catch up, atomic swap, audit events), timed from the request to
 * the operation's success; then one replay check of every read model.
 */
export async function replayBench(runtime: Runtime): Promise<ReplayFigures> {
  const rawRead = await rawReadBaseline(runtime.store!);
  const rebuilds: RebuildFigure[] = [];
  for (const runner of runtime.projections) {
    const name = runner.projection.name;
    const t0 = performance.now();
    const { operationId } = await runtime.rebuilds!.start(name, 'bench');
    for (;;) {
      const op = await runtime.readModels.getOperation(operationId);
      if (op?.status === 'failed') throw new Error(`rebuild of ${name} failed: ${op.error}`);
      if (op?.status === 'succeeded') {
        const ms = performance.now() - t0;
        const events = op.progress?.total ?? 0;
        rebuilds.push({ projection: name, events, ms, perSecond: events / (ms / 1000) });
        break;
      }
      await sleep(5);
    }
  }
  const t1 = performance.now();
  const report = await replayCheck(
    {
      store: runtime.store!,
      redis: runtime.redis,
      keys: runtime.keys,
      log: runtime.log,
      runner: (n) => runtime.projection(n),
      pause: (runner, fn) => runner.paused(fn),
      waitForOperations: (p) => runtime.waitForProjections(p, 3000, ['vms']),
    },
    runtime.projections,
  );
  return {
    rawRead,
    rebuilds,
    check: {
      ms: performance.now() - t1,
      events: report.eventsReplayed,
      records: report.recordsCompared,
      consistent: report.consistent,
    },
  };
}

export function printReplay(r: ReplayFigures): void {
  console.log('\nsection: replay (full rebuild from position 0 into a shadow, atomic swap)');
  console.log(`  raw store read (baseline): ${r.rawRead.events} events = ${r.rawRead.perSecond.toFixed(0)} events/s`);
  for (const b of r.rebuilds)
    console.log(
      `  rebuild ${b.projection.padEnd(6)} ${String(b.events).padStart(7)} events in ${b.ms.toFixed(0).padStart(6)} ms = ${b.perSecond.toFixed(0)} events/s`,
    );
  console.log(
    `  replay-check (every read model): ${r.check.events} events, ${r.check.records} records compared in ${r.check.ms.toFixed(0)} ms; consistent: ${r.check.consistent}`,
  );
}
