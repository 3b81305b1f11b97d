/**
 * `npm run bench -- --scale-out --store postgres://…`: the same creates through
 * 1 and then 3 API processes (real `node dist/src/main.js` processes, ROLE=api,
 * one PostgreSQL schema and one Redis prefix per run, one worker process with a
 * simulated host of latency 0), the load spread round-robin over the processes.
 * The bench process watches the log itself (a subscription to the store) to see
 * each VM reach running, so measuring puts no load on the API processes.
 */
import { Redis } from 'ioredis';
import { ApiFleet, FLEET_ADMIN_TOKEN } from '../chaos/support/api-fleet.js';
import { cpuSeconds } from '../chaos/support/load-figures.js';
import { createEventStore } from '../src/eventstore/create-event-store.js';
import { deleteKeysWithPrefix } from '../src/projections/redis-keys.js';
import { dropSchema } from './pg-schema.js';
import { pool, row, summarize, type Summary } from './stats.js';

export interface ScaleOutRun {
  apis: number;
  accept: Summary;
  toRunning: Summary;
  failed: number;
  /** CPU ms per create, summed over the API processes, and of the worker: figures the machine's other load moves little. */
  apiCpuMs: number;
  workerCpuMs: number;
}

/** CPU seconds used so far by each of these processes (0 for one that is not running). */
function cpuOf(pids: Array<number | undefined>): number {
  return pids.reduce<number>((sum, pid) => sum + (pid === undefined ? 0 : cpuSeconds(pid)), 0);
}

/** One run: `apis` processes, `n` creates with `concurrency` in flight. */
export async function scaleOutRun(opts: {
  apis: number;
  redisUrl: string;
  storeUrl: string;
  n: number;
  concurrency: number;
}): Promise<ScaleOutRun> {
  const tag = `vlbenchso${process.pid}_${opts.apis}`;
  const u = new URL(opts.storeUrl);
  u.searchParams.set('schema', tag);
  const storeUrl = u.toString();
  const fleet = await ApiFleet.start({
    name: `bench${opts.apis}`,
    apis: opts.apis,
    redisUrl: opts.redisUrl,
    redisPrefix: tag,
    eventStoreUrl: storeUrl,
    // The bench's own load must not be rate limited (one principal, three processes, one budget).
    env: { RATE_LIMIT_BURST: '0', RATE_LIMIT_PER_MINUTE: '0', WORKER_CONCURRENCY: '32', LOG_LEVEL: 'error' },
  });
  const store = createEventStore(storeUrl, { dataDir: fleet.dataDir });
  try {
    const hostId = await fleet.registerHost('bench-host', 'simulated://?latencyMs=0', 100000);
    const worker = fleet.startWorker('worker', [hostId]);
    await store.init();
    const sent = new Map<string, number>();
    const running = new Map<string, number>();
    let failed = 0;
    let allDone!: () => void;
    const finished = new Promise<void>((r) => (allDone = r));
    const head = await store.headPosition();
    const sub = store.subscribeToAll({
      ...(head !== undefined ? { after: head } : {}),
      onEvent: (e) => {
        if (e.type === 'VmStarted' || e.type === 'VmOperationFailed') {
          if (e.type === 'VmOperationFailed') failed++;
          running.set(e.streamId.slice(3), performance.now());
          if (running.size >= opts.n) allDone();
        }
        return Promise.resolve();
      },
    });
    const headers = { authorization: `Bearer ${FLEET_ADMIN_TOKEN}`, 'content-type': 'application/json' };
    const accept: number[] = [];
    const apiPids = fleet.members.map((m) => m.proc.pid);
    const apiCpu0 = cpuOf(apiPids);
    const workerCpu0 = cpuOf([worker.pid]);
    const t0 = performance.now();
    await pool(opts.n, opts.concurrency, async (i) => {
      const m = fleet.members[i % fleet.members.length]!;
      const s = performance.now();
      const res = await fetch(`http://127.0.0.1:${m.port}/v1/vms`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: `bench-${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId }),
      });
      const body = (await res.json()) as Record<string, unknown>;
      if (res.status !== 202) throw new Error(`POST /v1/vms on api${m.index}: ${res.status} ${JSON.stringify(body)}`);
      accept.push(performance.now() - s);
      sent.set(body.vmId as string, s);
    });
    await Promise.race([finished, new Promise((r) => setTimeout(r, 300000).unref())]);
    const wall = performance.now() - t0;
    const apiCpuMs = ((cpuOf(apiPids) - apiCpu0) * 1000) / opts.n;
    const workerCpuMs = ((cpuOf([worker.pid]) - workerCpu0) * 1000) / opts.n;
    await sub.stop();
    const toRunning = [...sent].filter(([id]) => running.has(id)).map(([id, s]) => running.get(id)! - s);
    return {
      apis: opts.apis,
      accept: summarize(accept, wall),
      toRunning: summarize(toRunning, wall),
      failed,
      apiCpuMs,
      workerCpuMs,
    };
  } finally {
    await store.close().catch(() => undefined);
    await fleet.close();
    await dropSchema(storeUrl).catch(() => undefined);
    const r = new Redis(opts.redisUrl);
    await deleteKeysWithPrefix(r, tag).catch(() => undefined);
    r.disconnect();
  }
}

/** 1 then 3 API processes on the same machine and store; prints both and their ratios. */
export async function scaleOutBench(opts: {
  redisUrl: string;
  storeUrl: string;
  n: number;
  concurrency: number;
}): Promise<void> {
  if (!opts.storeUrl.startsWith('postgres')) {
    throw new Error('--scale-out needs --store postgres://… (several API processes share one PostgreSQL store)');
  }
  const runs: ScaleOutRun[] = [];
  for (const apis of [1, 3]) runs.push(await scaleOutRun({ ...opts, apis }));
  console.log('section: scale out (API processes on one PostgreSQL and one Redis, simulated host, latency 0)');
  for (const r of runs) {
    console.log(row(`${r.apis} API process(es): POST /v1/vms → 202`, r.accept));
    console.log(row(`${r.apis} API process(es): accept → running`, r.toRunning));
    console.log(
      `  creates/s end to end: ${r.toRunning.perSecond.toFixed(1)}   failed: ${r.failed}   ` +
        `CPU per create: API processes ${r.apiCpuMs.toFixed(1)} ms, worker ${r.workerCpuMs.toFixed(1)} ms`,
    );
  }
  const [one, three] = runs as [ScaleOutRun, ScaleOutRun];
  console.log(
    `\n  ratio 3 / 1 processes: creates/s ${(three.toRunning.perSecond / one.toRunning.perSecond).toFixed(2)}×, ` +
      `POST → 202 p50 ${(three.accept.p50 / one.accept.p50).toFixed(2)}×, ` +
      `accept → running p50 ${(three.toRunning.p50 / one.toRunning.p50).toFixed(2)}×, ` +
      `API CPU per create ${(three.apiCpuMs / one.apiCpuMs).toFixed(2)}×`,
  );
  console.log(
    '  (one process owns the sagas and projections whatever the count: more API processes add HTTP and decision\n' +
      '   capacity, and failover; on a 2-core machine they also compete for the same cores)',
  );
}
