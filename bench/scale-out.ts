/**
 * `npm run bench -- --scale-out --store postgres://…`: the same creates through
 * three topologies of real `node dist/src/main.js` processes on one PostgreSQL
 * schema and one Redis prefix per run (topologies in scale-out-topologies.ts),
 * with a simulated host of latency 0, each printed as creates/s and CPU per
 * create per process, and as a ratio to raw BullMQ measured in the same run.
 * The bench process watches the log itself (a subscription to the store) to see
 * each VM reach running, so measuring puts no load on the measured processes.
 */
import { Redis } from 'ioredis';
import { ApiFleet, FLEET_ADMIN_TOKEN } from '../chaos/support/api-fleet.js';
import { createEventStore } from '../src/eventstore/create-event-store.js';
import { deleteKeysWithPrefix } from '../src/projections/redis-keys.js';
import { bullmqBaseline } from './baselines.js';
import { dropSchema } from './pg-schema.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPrivateRedis } from '../src/runtime/private-redis.js';
import { perCreate, pgSchemaCounts, redisCommandCounts } from './scale-out-calls.js';
import { CreatesWatch } from './scale-out-watch.js';
import { ProcessCpu, TOPOLOGIES, WARMUP_PER_PROCESS, type ScaleOutRun, type Topology } from './scale-out-topologies.js';
import { printMedians, printScaleOut } from './scale-out-print.js';
import { pool, summarize, type Summary } from './stats.js';

/** Idle CPU is read over this long after the warm-up (what the processes spend with no load: leases, polls). */
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 3000);

/** One run of one topology: `n` creates with `concurrency` in flight, after a warm-up. */
export async function scaleOutRun(opts: {
  topology: Topology;
  redisUrl: string;
  storeUrl: string;
  n: number;
  concurrency: number;
}): Promise<ScaleOutRun> {
  const t = opts.topology;
  const tag = `vlbenchso${process.pid}_${t.key}`;
  const u = new URL(opts.storeUrl);
  u.searchParams.set('schema', tag);
  const storeUrl = u.toString();
  const nodeArgs = process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean);
  const fleet = await ApiFleet.start({
    name: `bench-${t.key}`,
    apis: t.apis,
    role: t.role,
    redisUrl: opts.redisUrl,
    redisPrefix: tag,
    eventStoreUrl: storeUrl,
    // The bench's own load must not be rate limited (one principal, several processes, one budget).
    env: { RATE_LIMIT_BURST: '0', RATE_LIMIT_PER_MINUTE: '0', WORKER_CONCURRENCY: '32', LOG_LEVEL: 'error' },
    ...(nodeArgs?.length ? { nodeArgs } : {}),
  });
  const store = createEventStore(storeUrl, { dataDir: fleet.dataDir });
  const counter = new Redis(opts.redisUrl);
  let watch: CreatesWatch | undefined;
  let closed = false;
  try {
    const hostId = await fleet.registerHost('bench-host', 'simulated://?latencyMs=0', 100000);
    const worker = t.worker ? fleet.startWorker('worker', [hostId]) : undefined;
    await store.init();
    watch = await CreatesWatch.start(store);
    const owner = await fleet.owner();
    const pg0 = await pgSchemaCounts(storeUrl);
    // The balancer's targets: every process, or (split) every one but the owner, which keeps its CPU for sagas and projections.
    const targets = fleet.members.filter((m) => t.httpToOwner || m !== owner);
    const headers = { authorization: `Bearer ${FLEET_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const create = async (i: number, name: string): Promise<{ vmId: string; ms: number }> => {
      const m = targets[i % targets.length]!;
      const s = performance.now();
      const res = await fetch(`http://127.0.0.1:${m.port}/v1/vms`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name, vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId }),
      });
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status !== 202) throw new Error(`POST /v1/vms on api${m.index}: ${res.status} ${JSON.stringify(body)}`);
      return { vmId: body.vmId as string, ms: performance.now() - s };
    };
    const warm: string[] = [];
    await pool(WARMUP_PER_PROCESS * targets.length, opts.concurrency, async (i) => {
      warm.push((await create(i, `warm-${i}`)).vmId);
    });
    await watch.allSettled(warm, 120000);
    const cpu = new ProcessCpu([
      ...fleet.members.map((m) => ({
        label: `api${m.index} (${m === owner ? 'owner' : 'standby'}${targets.includes(m) ? ', HTTP' : ', no HTTP'})`,
        pid: m.proc.pid,
      })),
      ...(worker ? [{ label: 'worker', pid: worker.pid }] : []),
    ]);
    const idle = await cpu.idle(IDLE_MS);
    const accept: number[] = [];
    const sent = new Map<string, number>();
    const redis0 = await redisCommandCounts(counter);
    const before = cpu.read();
    const t0 = performance.now();
    await pool(opts.n, opts.concurrency, async (i) => {
      const s = performance.now();
      const r = await create(i, `bench-${i}`);
      accept.push(r.ms);
      sent.set(r.vmId, s);
    });
    await watch.allSettled([...sent.keys()], 300000);
    const wall = performance.now() - t0;
    const processes = cpu.perCreate(before, opts.n, idle);
    const redisCalls = perCreate(redis0, await redisCommandCounts(counter), opts.n);
    // A backend flushes its table statistics when it exits: read them once every process is gone.
    await watch.stop();
    await store.close();
    await fleet.close();
    closed = true;
    const pgCalls = perCreate(pg0, await pgSchemaCounts(storeUrl), opts.n + warm.length);
    const toRunning = [...sent].map(([id, s]) => watch!.settledAt(id)! - s);
    return {
      topology: t,
      accept: summarize(accept, wall),
      toRunning: summarize(toRunning, wall),
      failed: watch.failedAmong(sent.keys()),
      processes,
      totalCpuMs: processes.reduce((sum, p) => sum + p.cpuMsPerCreate, 0),
      netCpuMs: processes.reduce((sum, p) => sum + p.cpuMsPerCreate - (p.idleCpuMsPerS * wall) / 1000 / opts.n, 0),
      redisCalls,
      pgCalls,
    };
  } finally {
    counter.disconnect();
    if (!closed) {
      await watch?.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      await fleet.close();
    }
    await dropSchema(storeUrl).catch(() => undefined);
    const r = new Redis(opts.redisUrl);
    await deleteKeysWithPrefix(r, tag).catch(() => undefined);
    r.disconnect();
  }
}

/** Each topology (all, or those `only` names), then raw BullMQ; prints every run as a ratio to BullMQ and to one process. */
export async function scaleOutBench(opts: {
  /** A shared Redis; without it the bench runs its own redis-server, whose command counts are then exact. */
  redisUrl: string | undefined;
  storeUrl: string;
  n: number;
  concurrency: number;
  only?: string[];
  /** Rounds of every chosen topology, the order reversed every other round (the machine's load drifts). */
  rounds?: number;
}): Promise<void> {
  if (!opts.storeUrl.startsWith('postgres')) {
    throw new Error('--scale-out needs --store postgres://… (several processes share one PostgreSQL store)');
  }
  const chosen = TOPOLOGIES.filter((t) => !opts.only?.length || opts.only.includes(t.key));
  const dir = mkdtempSync(join(tmpdir(), 'vl-bench-so-'));
  const priv = opts.redisUrl ? undefined : await startPrivateRedis(dir, pino({ level: 'silent' }));
  const redisUrl = opts.redisUrl ?? priv!.url;
  const rounds: Array<{ runs: ScaleOutRun[]; bull: Summary }> = [];
  try {
    for (let i = 0; i < (opts.rounds ?? 1); i++) {
      const runs: ScaleOutRun[] = [];
      for (const topology of i % 2 ? [...chosen].reverse() : chosen)
        runs.push(await scaleOutRun({ ...opts, redisUrl, topology }));
      const bull = await bullmqBaseline(redisUrl, `vlbenchso${process.pid}raw`, opts.n, opts.concurrency);
      printScaleOut(runs, bull, { ...opts, round: i + 1 }, !priv);
      rounds.push({ runs, bull });
    }
  } finally {
    await priv?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  if (rounds.length > 1) printMedians(chosen, rounds);
}
