/**
 * The fleet at any instant (issue 13, point 5):
 *   node dist/bench/fleet-at.js [--n 100000] [--store postgres://…?schema=…]
 * Writes a log of n VM and host events (20 hosts, VMs created, placed, started
 * and stopped/started over and over), then times GET /v1/fleet?at='s read
 * (FleetHistory: fold forward from the nearest checkpoint) against a full
 * replay from the first event, for instants spread over the log.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEventStore } from '../src/eventstore/create-event-store.js';
import { dropSchemaIfCreated } from './pg-schema.js';
import type { EventStore, NewEvent } from '../src/eventstore/event-store.port.js';
import { applyToFleet, emptyFleet } from '../src/projections/fleet-fold.js';
import { FleetHistory } from '../src/projections/fleet-history.js';

export interface FleetAtBenchResult {
  store: string;
  events: number;
  checkpoints: number;
  /** One pass over the log building the checkpoints (the first question after a start pays it). */
  indexMs: number;
  /** Median over the sampled instants. */
  atMs: number;
  replayMs: number;
}

const HOSTS = 20;
const PER_VM = 50;
const T0 = Date.parse('2030-01-01T00:00:00Z');

function ev(type: string, data: Record<string, unknown>, at: number): NewEvent {
  const id = randomUUID();
  const metadata = {
    principal: 'bench:fleet',
    correlationId: id,
    causationId: id,
    at: new Date(at).toISOString(),
    schema: 1,
  };
  return { id, type, data, metadata };
}

/** One VM's whole life (PER_VM events), its clock starting at `t` and ticking by `step` ms. */
function vmLife(i: number, t: number, step: number): NewEvent[] {
  const vmId = `bench-${i}`;
  const op = (k: string) => `${vmId}-${k}`;
  const hostId = `h${i % HOSTS}`;
  const spec = { name: `vm${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
  const out = [
    ev('VmCreateRequested', { vmId, operationId: op('c'), spec, requestedHostId: null, start: true }, (t += step)),
    ev('VmPlaced', { operationId: op('c'), hostId }, (t += step)),
    ev('VmDefined', { operationId: op('c'), hostId }, (t += step)),
    ev('VmStarted', { operationId: op('c') }, (t += step)),
  ];
  for (let k = 0; out.length < PER_VM; k++) {
    out.push(ev('VmStopRequested', { operationId: op(`s${k}`), force: false }, (t += step)));
    out.push(ev('VmStopped', { operationId: op(`s${k}`) }, (t += step)));
    out.push(ev('VmStartRequested', { operationId: op(`r${k}`) }, (t += step)));
    out.push(ev('VmStarted', { operationId: op(`r${k}`) }, (t += step)));
  }
  return out.slice(0, PER_VM);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function fleetAtBench(storeUrl: string | undefined, n: number): Promise<FleetAtBenchResult> {
  const dropStoreSchema = await dropSchemaIfCreated(storeUrl);
  const dir = mkdtempSync(join(tmpdir(), 'vl-fleet-bench-'));
  const store: EventStore = createEventStore(storeUrl ?? 'sqlite:store/events.sqlite3', { dataDir: dir });
  try {
    await store.init();
    const capacity = { vcpus: 4096, memoryMiB: 1 << 20 };
    for (let h = 0; h < HOSTS; h++)
      await store.append(
        `host-h${h}`,
        [ev('HostRegistered', { hostId: `h${h}`, name: `h${h}`, driver: 'simulated', uri: 'sim://', capacity }, T0)],
        'no_stream',
      );
    const vms = Math.ceil((n - HOSTS) / PER_VM);
    // Lives overlap in time (each VM starts one step after the previous), as a busy fleet's do.
    for (let i = 0; i < vms; i++) await store.append(`vm-bench-${i}`, vmLife(i, T0 + i * 1000, 1000), 'no_stream');
    const events = HOSTS + vms * PER_VM;
    const span = vms * 1000 + PER_VM * 1000;
    const instants = Array.from({ length: 15 }, (_, k) => new Date(T0 + Math.round(((k + 0.5) / 15) * span)));

    const history = new FleetHistory(store);
    let t0 = performance.now();
    await history.sync();
    const indexMs = performance.now() - t0;
    const atTimes: number[] = [];
    const replayTimes: number[] = [];
    for (const at of instants) {
      t0 = performance.now();
      const fast = await history.at({ kind: 'time', at });
      atTimes.push(performance.now() - t0);
      // The baseline: what answering without an index costs, reading the log from its start.
      t0 = performance.now();
      const slow = emptyFleet();
      let after: bigint | undefined;
      for (let done = false; !done;) {
        const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 1000 });
        for (const e of page) {
          if (Date.parse(e.metadata.at) > at.getTime()) {
            done = true;
            break;
          }
          applyToFleet(slow, e);
        }
        if (page.length < 1000) done = true;
        after = page[page.length - 1]?.position;
      }
      replayTimes.push(performance.now() - t0);
      if (fast.vms.size !== slow.vms.size || fast.position !== slow.position)
        throw new Error(`fleet at ${at.toISOString()}: index and replay disagree`);
    }
    return {
      store: store.kind,
      events,
      checkpoints: history.checkpointCount,
      indexMs,
      atMs: median(atTimes),
      replayMs: median(replayTimes),
    };
  } finally {
    await store.close();
    await dropStoreSchema().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printFleetAt(r: FleetAtBenchResult): void {
  console.log(`\nsection: fleet at any instant (${r.store}, ${r.events} events, ${r.checkpoints} checkpoints)`);
  console.log(`  index (one pass, checkpoint every 1000 events): ${r.indexMs.toFixed(0)} ms`);
  console.log(
    `  GET /v1/fleet?at= read, median of 15 instants: ${r.atMs.toFixed(1)} ms; ` +
      `full replay to the instant (baseline): ${r.replayMs.toFixed(1)} ms; ratio ${(r.replayMs / r.atMs).toFixed(0)}×`,
  );
}

if (process.argv[1]?.endsWith('fleet-at.js')) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  fleetAtBench(arg('store'), Number(arg('n') ?? '100000'))
    .then(printFleetAt)
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
