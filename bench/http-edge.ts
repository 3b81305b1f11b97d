/**
 * The HTTP edge alone: main-thread CPU per request of `POST /v1/vms`, `GET /v1/vms/{id}` and
 * `GET /v1/vms` (a page of the list), with nothing else on the event loop. It starts the app as
 * the bench does (SQLite, a private Redis, one simulated host), creates `--vms` VMs and waits until
 * they run, reads each once (so that read-your-writes has nothing left to wait for), then stops the
 * sagas, projections, sealer, result consumer and the host's worker, so that what the main thread
 * spends in a route's section is the edge's: express, helmet, Nest's pipeline (guards, interceptors,
 * the validation pipe, the filter), the body parser, the handler and its Redis and store calls.
 * Each route: `--warmup` requests unmeasured, then `--n` at `--concurrency` from a worker thread
 * (the client's fetch and JSON stay off the measured thread). CPU is the main thread's on-core time
 * (`/proc/self/task/<pid>/schedstat`, ns), which the machine's load moves little, unlike latency.
 *
 *   node dist/bench/http-edge.js [--n 2000] [--warmup 300] [--concurrency 32] [--vms 100]
 *                                [--routes get,list,post] [--profile <dir>]
 *
 * `--profile <dir>` writes a `.cpuprofile` of each route's measured section there (the profiler's
 * own cost is in that run's CPU figures: read CPU from runs without it).
 */
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { hostWorkerServing, servedApp } from './served-app.js';
import { loadConfig } from '../src/config/config.js';
import type { RecordedEvent } from '../src/eventstore/event-store.port.js';
import { startPrivateRedis } from '../src/runtime/private-redis.js';
import { Runtime } from '../src/runtime/runtime.js';
import { mainThreadSchedMs } from './main-thread-cpu.js';
import { EdgeClient, TOKEN, type Batch } from './http-edge-client.js';
import { summarize, type Summary } from './stats.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

interface RouteFigures {
  route: string;
  latency: Summary;
  mainCpuMsPerRequest: number;
  processCpuMsPerRequest: number;
}

async function main(): Promise<void> {
  const n = Number(arg('n', '2000'));
  const warmup = Number(arg('warmup', '300'));
  const concurrency = Number(arg('concurrency', '32'));
  const vmCount = Number(arg('vms', '100'));
  const routes = arg('routes', 'get,list,post').split(',');
  const profileDir = process.argv.includes('--profile') ? arg('profile', '') : undefined;
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'vl-http-edge-'));
  const priv = await startPrivateRedis(dataDir, pino({ level: 'silent' }));
  try {
    const config = loadConfig({
      DATA_DIR: dataDir,
      REDIS_URL: priv.url,
      REDIS_PREFIX: `vledge${process.pid}`,
      EVENTSTORE_URL: 'sqlite:events.sqlite3',
      AUTH_TOKENS: `admin:${TOKEN}`,
      LOG_LEVEL: 'silent',
      WORKER_CONCURRENCY: '32',
    });
    const { runtime, app, base } = await servedApp(config);
    const client = new EdgeClient();
    const sendFromWorker = (b: Batch) => client.send(b);
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const hostRes = await fetch(`${base}/v1/hosts`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'bench-host',
        driver: 'simulated',
        uri: 'simulated://?latencyMs=0',
        capacity: { vcpus: 100000, memoryMiB: 1000000000 },
      }),
    });
    if (hostRes.status >= 300) throw new Error(`POST /v1/hosts: ${hostRes.status} ${await hostRes.text()}`);
    await hostWorkerServing(runtime);

    // The VMs the reads read, running, each read once (read-your-writes then forgets them).
    const vmIds = await seedVms(runtime, base, vmCount, client);
    const paths = vmIds.map((id) => `/v1/vms/${id}`);
    await sendFromWorker({ base, method: 'GET', paths, namePrefix: '', n: paths.length, concurrency: 8 });
    await sendFromWorker({ base, method: 'GET', paths: ['/v1/vms'], namePrefix: '', n: 1, concurrency: 1 });

    // Only the edge from here on.
    await runtime.controlPlane!.stop();
    await runtime.hosts.stop(1000);

    const idle0 = mainThreadSchedMs();
    await new Promise((r) => setTimeout(r, 1000));
    const idle1 = mainThreadSchedMs();
    const idleMsPerS = idle0 && idle1 ? idle1.onCpu - idle0.onCpu : NaN;

    const batches: Record<string, (prefix: string, count: number) => Batch> = {
      get: (_p, count) => ({ base, method: 'GET', paths, namePrefix: '', n: count, concurrency }),
      list: (_p, count) => ({ base, method: 'GET', paths: ['/v1/vms'], namePrefix: '', n: count, concurrency }),
      post: (p, count) => ({ base, method: 'POST', paths: ['/v1/vms'], namePrefix: p, n: count, concurrency }),
    };
    const figures: RouteFigures[] = [];
    for (const route of routes) {
      const make = batches[route];
      if (!make) throw new Error(`--routes: unknown route ${route} (get, list, post)`);
      await sendFromWorker(make('warm-', warmup));
      const session = profileDir ? new Session() : undefined;
      if (session) {
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 100 });
        await session.post('Profiler.start');
      }
      const cpu0 = process.cpuUsage();
      const main0 = mainThreadSchedMs();
      const t0 = performance.now();
      const ms = await sendFromWorker(make('edge-', n));
      const wall = performance.now() - t0;
      const main1 = mainThreadSchedMs();
      const cpu = process.cpuUsage(cpu0);
      if (session) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(join(profileDir!, `${route}.cpuprofile`), JSON.stringify(profile));
        session.disconnect();
      }
      figures.push({
        route,
        latency: summarize(ms, wall),
        mainCpuMsPerRequest: main0 && main1 ? (main1.onCpu - main0.onCpu) / n : NaN,
        processCpuMsPerRequest: (cpu.user + cpu.system) / 1000 / n,
      });
    }
    console.log(`idle main thread (edge only): ${idleMsPerS.toFixed(2)} ms CPU per s`);
    for (const f of figures)
      console.log(
        `${f.route.padEnd(5)} main-thread CPU ${f.mainCpuMsPerRequest.toFixed(3)} ms/req  process ${f.processCpuMsPerRequest.toFixed(3)} ms/req  ` +
          `${f.latency.perSecond.toFixed(0)} req/s  p50 ${f.latency.p50.toFixed(1)} ms  p99 ${f.latency.p99.toFixed(1)} ms`,
      );
    await client.close();
    await app.close();
  } finally {
    await priv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Creates `count` VMs and waits until each runs; their ids. */
async function seedVms(runtime: Runtime, base: string, count: number, client: EdgeClient): Promise<string[]> {
  const vms = runtime.projection('vms')!;
  const running = new Set<string>();
  let allRunning!: () => void;
  const done = new Promise<void>((r) => (allRunning = r));
  vms.on('applied', (e: RecordedEvent) => {
    if (!e.streamId.startsWith('vm-') || e.type !== 'VmStarted') return;
    running.add(e.streamId.slice(3));
    if (running.size >= count) allRunning();
  });
  await client.send({ base, method: 'POST', paths: ['/v1/vms'], namePrefix: 'seed-', n: count, concurrency: 8 });
  await done;
  return [...running];
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
