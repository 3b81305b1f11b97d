/**
 * Full rebuilds and the replay check on a large seeded log (its own store and
 * Redis prefix; `seed-log.ts`), each against a raw read of the same log:
 *   node dist/bench/replay.js [--n 100000] [--store postgres://…?schema=…] [--check-only] [--checks 3]
 *     [--foreign-keys 490000]
 * (REDIS_URL, default redis://127.0.0.1:6379). Also `npm run bench`'s replay section.
 * `--foreign-keys` puts that many keys outside the read models' namespace first (a shared
 * Redis: queues, other deployments), which every scan of the keyspace walks too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createEventStore } from '../src/eventstore/create-event-store.js';
import type { EventStore } from '../src/eventstore/event-store.port.js';
import { PROJECTIONS } from '../src/projections/projection-catalog.js';
import { ProjectionRebuilds, type MaintenanceDeps } from '../src/projections/projection-rebuilds.js';
import { ProjectionRunner } from '../src/projections/projection-runner.js';
import { ReadModelKeys } from '../src/projections/read-model.keys.js';
import { ReadModels } from '../src/projections/read-models.js';
import { deleteKeysWithPrefix } from '../src/projections/redis-keys.js';
import { replayCheck } from '../src/projections/replay-check.js';
import { dropSchemaIfCreated } from './pg-schema.js';
import { catchUp, maintenanceDeps } from './live-runners.js';
import { seedLog } from './seed-log.js';

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function rawReadBaseline(store: EventStore): Promise<ReplayFigures['rawRead']> {
  const t0 = performance.now();
  const c0 = cpuMs();
  let events = 0;
  let after: bigint | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 2000 });
    events += page.length;
    if (page.length < 2000) break;
    after = page[page.length - 1]!.position;
  }
  return {
    events,
    perSecond: events / ((performance.now() - t0) / 1000),
    cpuUsPerEvent: ((cpuMs() - c0) * 1000) / events,
  };
}

export interface RebuildFigure {
  projection: string;
  events: number;
  ms: number;
  perSecond: number;
  /** CPU time of this process per event (user + system), µs: steadier than wall time on a shared machine. */
  cpuUsPerEvent: number;
}

export interface ReplayFigures {
  store: string;
  /** Events written straight into the store before the figures (0: the log the control-plane bench left). */
  seeded: number;
  /** Live runners catching up on the seeded log from position 0, all read models at once. */
  catchUp?: { ms: number; perSecond: number };
  /** Baseline: the whole log read in pages of 2000, nothing done with it. */
  rawRead: { events: number; perSecond: number; cpuUsPerEvent: number };
  rebuilds: RebuildFigure[];
  check: {
    ms: number;
    events: number;
    records: number;
    consistent: boolean;
    /** Log events checked per second (the whole log, every read model compared). */
    logPerSecond: number;
    /** CPU of this process per log event (every read model folded and compared). */
    cpuUsPerEvent: number;
    /** Events folded per second, summed over the read models. */
    perSecond: number;
    /** How long the live runners were paused, each read model's pause (ms), in check order. */
    pausesMs: number[];
    /** SCAN commands the check sent. */
    scans: number;
  };
}

export interface ReplayBenchOptions {
  /** Skip the rebuilds: only the raw read and the replay check (profiling the check). */
  checkOnly?: boolean;
  /** Replay checks run one after the other; the figures are those of the median CPU. */
  checks?: number;
}

/** What the replay figures need of a control plane (a Runtime, or the bench's own minimal stack). */
export interface ReplayTarget {
  deps: MaintenanceDeps;
  runners: ProjectionRunner[];
  rebuilds: ProjectionRebuilds;
  readModels: ReadModels;
}

/**
 * Full rebuilds through the real path (count, replay from position 0 into a
 * shadow, catch up, atomic swap, audit events), timed from the request to
 * the operation's success; then one replay check of every read model.
 */
export async function replayBench(
  t: ReplayTarget,
  opts: ReplayBenchOptions = {},
): Promise<Omit<ReplayFigures, 'store' | 'seeded'>> {
  const rawRead = await rawReadBaseline(t.deps.store);
  const rebuilds: RebuildFigure[] = [];
  for (const runner of opts.checkOnly ? [] : t.runners) {
    const name = runner.projection.name;
    const t0 = performance.now();
    const c0 = cpuMs();
    const { operationId } = await t.rebuilds.start(name, 'user:bench');
    for (;;) {
      const op = await t.readModels.getOperation(operationId);
      if (op?.status === 'failed') throw new Error(`rebuild of ${name} failed: ${op.error}`);
      if (op?.status === 'succeeded') {
        const ms = performance.now() - t0;
        const events = op.progress?.total ?? 0;
        const cpu = cpuMs() - c0;
        rebuilds.push({
          projection: name,
          events,
          ms,
          perSecond: events / (ms / 1000),
          cpuUsPerEvent: (cpu * 1000) / events,
        });
        break;
      }
      await sleep(5);
    }
  }
  // Each check run alone; the one of median CPU is reported (the machine is shared: one run says little).
  const runs: Array<{
    ms: number;
    checkCpu: number;
    pausesMs: number[];
    scans: number;
    report: Awaited<ReturnType<typeof replayCheck>>;
  }> = [];
  for (let i = 0; i < Math.max(1, opts.checks ?? 1); i++) {
    const pausesMs: number[] = [];
    const deps: MaintenanceDeps = {
      ...t.deps,
      pause: async (runner, fn) => {
        const p0 = performance.now();
        try {
          return await t.deps.pause(runner, fn);
        } finally {
          pausesMs.push(Math.round(performance.now() - p0));
        }
      },
    };
    const scans = countScans(t.deps.redis);
    const t1 = performance.now();
    const c1 = cpuMs();
    const report = await replayCheck(deps, t.runners);
    runs.push({ ms: performance.now() - t1, checkCpu: cpuMs() - c1, pausesMs, scans: scans.stop(), report });
  }
  runs.sort((a, b) => a.checkCpu - b.checkCpu);
  const { ms, checkCpu, report, pausesMs, scans } = runs[Math.floor((runs.length - 1) / 2)]!;
  return {
    rawRead,
    rebuilds,
    check: {
      ms,
      events: report.eventsReplayed,
      records: report.recordsCompared,
      consistent: report.consistent,
      logPerSecond: report.eventsReplayed / (ms / 1000),
      cpuUsPerEvent: (checkCpu * 1000) / report.eventsReplayed,
      // Every read model replays the whole log: the events folded per second over all of them.
      perSecond: (report.eventsReplayed * report.readModels.length) / (ms / 1000),
      pausesMs,
      scans,
    },
  };
}

/** Counts the SCANs sent on `redis` until stop() (a scan of the keyspace is one per step). */
function countScans(redis: Redis): { stop(): number } {
  let n = 0;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    if (args[0].name === 'scan') n++;
    return send(...args);
  };
  return {
    stop: () => {
      redis.sendCommand = send;
      return n;
    },
  };
}

/** `n` keys outside every read model's namespace (under `<prefix>:foreign:`, deleted with the prefix). */
async function addForeignKeys(redis: Redis, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 10_000) {
    const pairs: string[] = [];
    for (let j = i; j < Math.min(n, i + 10_000); j++) pairs.push(`${prefix}:foreign:${j}`, 'x');
    await redis.mset(...pairs);
  }
}

/** Seeds `n` events into a fresh store, projects them live, then measures rebuilds and the replay check. */
export async function seededReplayBench(
  opts: {
    redisUrl: string;
    storeUrl?: string;
    n: number;
    foreignKeys?: number;
  } & ReplayBenchOptions,
): Promise<ReplayFigures> {
  const dropStoreSchema = await dropSchemaIfCreated(opts.storeUrl);
  const dir = mkdtempSync(join(tmpdir(), 'vl-replay-bench-'));
  const store = createEventStore(opts.storeUrl ?? 'sqlite:store/events.sqlite3', { dataDir: dir });
  const redis = new Redis(opts.redisUrl);
  const prefix = `vlreplay${process.pid}`;
  const keys = new ReadModelKeys(prefix);
  const log = pino({ level: 'silent' });
  const runners = Object.values(PROJECTIONS).map((make) => new ProjectionRunner(make(keys), store, redis, keys, log));
  try {
    await store.init();
    await addForeignKeys(redis, prefix, opts.foreignKeys ?? 0);
    const seeded = await seedLog(store, opts.n);
    const head = (await store.headPosition())!;
    const t0 = performance.now();
    await catchUp(runners, head);
    const catchMs = performance.now() - t0;
    const deps = maintenanceDeps(store, redis, keys, log, runners);
    const figures = await replayBench(
      {
        deps,
        runners,
        rebuilds: new ProjectionRebuilds(deps),
        readModels: new ReadModels(redis, keys),
      },
      opts,
    );
    return {
      store: store.kind,
      seeded,
      catchUp: { ms: catchMs, perSecond: (seeded * runners.length) / (catchMs / 1000) },
      ...figures,
    };
  } finally {
    await Promise.all(runners.map((r) => r.close()));
    await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await store.close();
    await dropStoreSchema().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printReplay(r: ReplayFigures): void {
  console.log(
    `\nsection: replay (${r.store}, ${r.seeded ? `${r.seeded} events seeded straight into the store` : 'the log above'}; full rebuild from position 0 into a shadow, atomic swap)`,
  );
  console.log(
    `  raw store read (baseline): ${r.rawRead.events} events = ${r.rawRead.perSecond.toFixed(0)} events/s; CPU ${r.rawRead.cpuUsPerEvent.toFixed(1)} µs/event`,
  );
  if (r.catchUp)
    console.log(
      `  live runners catching up from 0, all read models at once: ${r.catchUp.ms.toFixed(0)} ms = ${r.catchUp.perSecond.toFixed(0)} events/s folded`,
    );
  for (const b of r.rebuilds)
    console.log(
      `  rebuild ${b.projection.padEnd(8)} ${String(b.events).padStart(7)} events in ${b.ms.toFixed(0).padStart(6)} ms = ${b.perSecond.toFixed(0).padStart(7)} events/s = ${(b.perSecond / r.rawRead.perSecond).toFixed(2)}× raw read; CPU ${b.cpuUsPerEvent.toFixed(1)} µs/event = ${(r.rawRead.cpuUsPerEvent / b.cpuUsPerEvent).toFixed(2)}× raw read's`,
    );
  console.log(
    `  replay-check (every read model): ${r.check.events} events, ${r.check.records} records compared in ${r.check.ms.toFixed(0)} ms = ${r.check.logPerSecond.toFixed(0)} log events/s (${(r.check.logPerSecond / r.rawRead.perSecond).toFixed(2)}× raw read), ${r.check.perSecond.toFixed(0)} events/s folded over the read models; CPU ${r.check.cpuUsPerEvent.toFixed(1)} µs/event; consistent: ${r.check.consistent}`,
  );
  console.log(
    `  replay-check pauses (ms, per read model): ${r.check.pausesMs.join(' ')} (total ${r.check.pausesMs.reduce((a, b) => a + b, 0)}); SCAN commands: ${r.check.scans}`,
  );
}

if (process.argv[1]?.endsWith('replay.js')) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  seededReplayBench({
    redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    storeUrl: arg('store'),
    n: Number(arg('n') ?? '100000'),
    checkOnly: process.argv.includes('--check-only'),
    checks: Number(arg('checks') ?? '1'),
    foreignKeys: Number(arg('foreign-keys') ?? '0'),
  })
    .then(printReplay)
    .then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
}
