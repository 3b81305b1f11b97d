import { monitorEventLoopDelay } from 'node:perf_hooks';
// First: served-app loads http-app, which loads reflect-metadata before any decorated class.
import { hostWorkerServing, servedApp } from './served-app.js';
import { loadConfig } from '../src/config/config.js';
import type { RecordedEvent } from '../src/eventstore/event-store.port.js';
import { SqliteEventStore } from '../src/eventstore/sqlite/sqlite.event-store.js';
import type { ProjectionRunner } from '../src/projections/projection-runner.js';
import { Runtime } from '../src/runtime/runtime.js';
import type { BenchApi } from './history.js';
import { summarize, type Summary } from './stats.js';
import { createsFromWorker } from './create-load.js';
import { countStoreCalls } from './store-calls.js';
import { perCreate, redisCommandCounts } from './scale-out-calls.js';
import { redisServerCpuMs } from './redis-cpu.js';
import { mainThreadCpuMs, mainThreadSchedMs, threadsCpuDelta, threadsCpuMs } from './main-thread-cpu.js';
import { BenchWorkerProcess } from './worker-process.js';
import { watchServerLatency } from './server-side-latency.js';
import { sampleAllocations, watchGc, writeSyscalls, type GcCounts } from './gc-stats.js';

export interface ControlPlaneResult {
  accept: Summary;
  /** POST → 202 in the server's main-thread CPU ms that passed meanwhile (Linux; see SentCreate.acceptMainCpuMs). */
  acceptMainCpu?: Summary;
  toRunning: Summary;
  failed: number;
  rssStartMiB: number;
  rssEndMiB: number;
  /** CPU time of the whole process (every thread: app, writer thread, bench client) per create, ms. */
  cpuMsPerCreate: number;
  /** POST /v1/vms as the server timed it (request-timing middleware → response finished), ms. */
  serverPost: Summary;
  /** Every store append of the section (the POSTs', the sagas', the results'), post → answered, ms. */
  appends: Summary;
  /**
   * How late the main event loop ran a 10 ms timer during the section, ms (p50, p99, max): what each
   * await on a request's path may wait while the sagas, projections and result consumer hold the loop.
   */
  loopDelay: { p50: number; p99: number; max: number };
  /**
   * The main thread's CPU time between two firings of a 5 ms timer during the section, ms (Linux): the
   * loop delay in CPU terms, what one turn of the loop held a waiting request for, without the time the
   * thread waited for a core on a shared machine.
   */
  turnCpu?: { p99: number; max: number };
  /** CPU time of the bench's client thread (its fetch and JSON, in `cpuMsPerCreate` too) per create, ms (Linux). */
  clientCpuMsPerCreate?: number;
  /** CPU time of the main thread alone (the event loop every component shares) per create, ms (Linux). */
  mainThreadCpuMsPerCreate?: number;
  /**
   * CPU time per create of each of the process's threads that ran in the section, by Linux thread id, largest
   * first (the main thread's id is the pid; a thread that ended in the section, the bench's client, is not in it).
   */
  threadCpuMsPerCreate?: [number, number][];
  /** SQLite only: appends per group transaction (per fsync) on the writer thread during the section. */
  appendsPerCommit?: number;
  /** SQLite only: group transactions (fsyncs) on the writer thread per create; at concurrency 1, the commits a create waits for. */
  commitsPerCreate?: number;
  /** Calls on the store per create (every component of the process), by method. */
  storeCallsPerCreate: Record<string, number>;
  /** Share of the create section the main thread's event loop was busy (1 = saturated). */
  mainLoopBusy: number;
  /** Redis commands per create by command, the most first (server-wide: exact with the bench's own redis-server). */
  redisCallsPerCreate: Array<[string, number]>;
  /** The redis-server's CPU time per create, ms (server-wide, as above). */
  redisCpuMsPerCreate: number;
  /** The main isolate's collections in the section (worker threads not counted). */
  gc: GcCounts;
  /** Write-type system calls of the whole process in the section (Linux). */
  writeSyscalls?: number;
  /** With `allocations`: bytes the main isolate allocated in the section (sampled estimate). */
  allocatedBytes?: number;
  /**
   * The POSTs' own window (the first sent → the last 202, as the bench's loop saw it end): its length, the
   * POSTs per second in it, and what the process and its main thread spent in it. On a closed loop of
   * `concurrency` clients the POST's mean latency is concurrency ÷ that rate (Little's law), so the rate, and
   * the cores it took, say what a latency target asks of the machine.
   */
  postPhase: {
    ms: number;
    perSecond: number;
    processCores: number;
    mainThreadCores?: number;
    mainLoopBusy: number;
    /** Share of the window the main thread was runnable but waiting for a core (Linux). */
    mainWaitingForCore?: number;
  };
  /** With `workerProcess`: the worker process's CPU time per create (every thread), ms. */
  workerCpuMsPerCreate?: number;
  runtime: Runtime;
  api: BenchApi;
  hostId: string;
  close: () => Promise<void>;
}

const TOKEN = 'bench-admin-token-0123456789';

/** N creates through HTTP → decider → store → saga → BullMQ → worker → simulated driver → result → projection. */
export async function controlPlaneBench(opts: {
  redisUrl: string;
  prefix: string;
  dataDir: string;
  eventStoreUrl: string;
  n: number;
  concurrency: number;
  /**
   * Run the simulated host's worker in a process of its own (ROLE=worker) and this process as
   * ROLE=api, as deployed; default: one process runs everything (ROLE=all), the figure printed so far.
   */
  workerProcess?: boolean;
  /**
   * Creates sent (and run to completion) before the measured section, not counted: the section then
   * measures code V8 has compiled and optimized, as a server that has been up a while runs it. Without
   * it (the default, every earlier figure) the 400 POSTs run partly on cold code (the validation pipe
   * alone takes ~150 µs a body over its first 1,000 calls, ~20 µs warm).
   */
  warmup?: number;
  /** Sample the section's allocations (costs CPU: read no CPU figure of such a run); a path writes the profile. */
  allocations?: { profileFile?: string };
}): Promise<ControlPlaneResult> {
  const env = {
    DATA_DIR: opts.dataDir,
    REDIS_URL: opts.redisUrl,
    REDIS_PREFIX: opts.prefix,
    EVENTSTORE_URL: opts.eventStoreUrl,
    AUTH_TOKENS: `admin:${TOKEN}`,
    LOG_LEVEL: 'silent',
    WORKER_CONCURRENCY: '32',
  };
  const config = loadConfig({ ...env, ...(opts.workerProcess ? { ROLE: 'api' } : {}) });
  const { runtime, app, base } = await servedApp(config);
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    if (res.status >= 300) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const api: BenchApi = {
    post,
    del: async (path) => {
      const res = await fetch(base + path, { method: 'DELETE', headers });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status >= 300) throw new Error(`DELETE ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    },
    done: async (operationId) => {
      for (;;) {
        const res = await fetch(`${base}/v1/operations/${operationId}?waitMs=30000`, { headers });
        const op = (await res.json()) as Record<string, unknown>;
        if (op.status === 'succeeded') return;
        if (op.status === 'failed' || op.status === 'cancelled' || res.status >= 300)
          throw new Error(`operation ${operationId}: ${res.status} ${JSON.stringify(op)}`);
      }
    },
  };
  const host = await post('/v1/hosts', {
    name: 'bench-host',
    driver: 'simulated',
    uri: 'simulated://?latencyMs=0',
    capacity: { vcpus: 100000, memoryMiB: 1000000000 },
  });
  const hostId = (host.id ?? host.hostId) as string;
  const worker = opts.workerProcess
    ? await BenchWorkerProcess.start({ env, hostId, dataDir: opts.dataDir, hub: runtime.hub })
    : undefined;
  let ended: EndedWatch | undefined;
  try {
    if (!worker) await hostWorkerServing(runtime);

    if (opts.warmup) await warmUp(runtime, base, opts.warmup, opts.concurrency);
    const sent = new Map<string, number>();
    ended = watchEnded(runtime.projection('vms')!, opts.n);
    const { running, finished } = ended;
    const accept: number[] = [];
    const acceptCpu: number[] = [];
    const rssStart = process.memoryUsage().rss;
    const cpuStart = process.cpuUsage();
    const mainCpuStart = mainThreadCpuMs();
    const threadsStart = threadsCpuMs();
    const schedStart = mainThreadSchedMs();
    const writer = runtime.store instanceof SqliteEventStore ? runtime.store : undefined;
    const writerStart = writer?.writerStats;
    const eluStart = performance.eventLoopUtilization();
    // Before countStoreCalls, which then wraps this wrapper: each one is taken off in turn below.
    const latency = watchServerLatency(runtime.metrics, runtime.store!);
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const turns = watchTurnCpu();
    const calls = countStoreCalls(runtime.store!);
    const redisBefore = await redisCommandCounts(runtime.redis);
    const redisCpuBefore = await redisServerCpuMs(runtime.redis);
    const workerCpuStart = worker?.cpuMs();
    const allocs = opts.allocations ? await sampleAllocations(opts.allocations.profileFile) : undefined;
    const gc = watchGc();
    const syscwStart = writeSyscalls();
    const t0 = performance.now();
    // The client runs in a worker thread: its fetch and JSON work is not charged to the server's event loop.
    const load = await createsFromWorker({
      base,
      token: TOKEN,
      n: opts.n,
      concurrency: opts.concurrency,
      prefix: 'bench-',
    });
    const postPhaseMs = performance.now() - t0;
    const postCpu = process.cpuUsage(cpuStart);
    const postMainCpu = mainThreadCpuMs();
    const postElu = performance.eventLoopUtilization(eluStart);
    const postSched = mainThreadSchedMs();
    for (const c of load.sent) {
      accept.push(c.acceptMs);
      if (Number.isFinite(c.acceptMainCpuMs)) acceptCpu.push(c.acceptMainCpuMs);
      sent.set(c.vmId, c.sentAt - performance.timeOrigin);
    }
    let giveUp: NodeJS.Timeout | undefined;
    await Promise.race([finished, new Promise((r) => (giveUp = setTimeout(r, 300000)))]);
    // Not left pending: a caller that runs on (a test) would otherwise be kept alive 5 minutes.
    clearTimeout(giveUp);
    ended.stop();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpuStart);
    const mainCpuEnd = mainThreadCpuMs();
    const threads = threadsCpuDelta(threadsStart, threadsCpuMs()).filter(([, ms]) => ms > 0);
    const syscwEnd = writeSyscalls();
    const gcCounts = await gc.stop();
    const allocatedBytes = await allocs?.stop();
    const workerCpu = worker && workerCpuStart !== undefined ? worker.cpuMs() - workerCpuStart : undefined;
    const elu = performance.eventLoopUtilization(eluStart);
    const storeCalls = calls.stop();
    const server = latency.stop();
    delay.disable();
    const turnCpu = turns.stop();
    const redisCpu = (await redisServerCpuMs(runtime.redis)) - redisCpuBefore;
    const redisAfter = await redisCommandCounts(runtime.redis);
    const writerEnd = writer?.writerStats;
    const appendsPerCommit =
      writerStart && writerEnd && writerEnd.groups > writerStart.groups
        ? (writerEnd.appends - writerStart.appends) / (writerEnd.groups - writerStart.groups)
        : undefined;
    const commitsPerCreate = writerStart && writerEnd ? (writerEnd.groups - writerStart.groups) / opts.n : undefined;
    const toRunning = [...sent].filter(([id]) => running.has(id)).map(([id, s]) => running.get(id)! - s);
    return {
      accept: summarize(accept, wall),
      ...(acceptCpu.length ? { acceptMainCpu: summarize(acceptCpu, wall) } : {}),
      toRunning: summarize(toRunning, wall),
      serverPost: summarize(server.postMs, wall),
      appends: summarize(server.appendMs, wall),
      // The histogram is in ns and counts the resolution itself as delay.
      loopDelay: {
        p50: Math.max(0, delay.percentile(50) / 1e6 - 10),
        p99: Math.max(0, delay.percentile(99) / 1e6 - 10),
        max: Math.max(0, delay.max / 1e6 - 10),
      },
      ...(turnCpu ? { turnCpu } : {}),
      failed: ended.failed,
      rssStartMiB: rssStart / 2 ** 20,
      rssEndMiB: process.memoryUsage().rss / 2 ** 20,
      cpuMsPerCreate: (cpu.user + cpu.system) / 1000 / opts.n,
      ...(load.clientCpuMs !== undefined ? { clientCpuMsPerCreate: load.clientCpuMs / opts.n } : {}),
      ...(mainCpuStart !== undefined && mainCpuEnd !== undefined
        ? { mainThreadCpuMsPerCreate: (mainCpuEnd - mainCpuStart) / opts.n }
        : {}),
      ...(threads.length
        ? { threadCpuMsPerCreate: threads.map(([id, ms]): [number, number] => [id, ms / opts.n]) }
        : {}),
      mainLoopBusy: elu.utilization,
      postPhase: {
        ms: postPhaseMs,
        perSecond: (opts.n / postPhaseMs) * 1000,
        processCores: (postCpu.user + postCpu.system) / 1000 / postPhaseMs,
        ...(mainCpuStart !== undefined && postMainCpu !== undefined
          ? { mainThreadCores: (postMainCpu - mainCpuStart) / postPhaseMs }
          : {}),
        mainLoopBusy: postElu.utilization,
        ...(schedStart && postSched
          ? { mainWaitingForCore: (postSched.waiting - schedStart.waiting) / postPhaseMs }
          : {}),
      },
      redisCallsPerCreate: perCreate(redisBefore, redisAfter, opts.n),
      redisCpuMsPerCreate: redisCpu / opts.n,
      ...(workerCpu !== undefined ? { workerCpuMsPerCreate: workerCpu / opts.n } : {}),
      gc: gcCounts,
      ...(syscwStart !== undefined && syscwEnd !== undefined ? { writeSyscalls: syscwEnd - syscwStart } : {}),
      ...(allocatedBytes !== undefined ? { allocatedBytes } : {}),
      storeCallsPerCreate: Object.fromEntries(Object.entries(storeCalls).map(([m, c]) => [m, c / opts.n])),
      ...(appendsPerCommit !== undefined ? { appendsPerCommit } : {}),
      ...(commitsPerCreate !== undefined ? { commitsPerCreate } : {}),
      runtime,
      api,
      hostId,
      close: async () => {
        await worker?.stop();
        await app.close();
        await runtime.stop();
      },
    };
  } catch (err) {
    ended?.stop();
    // A failed section must not leave the worker process running after the bench exits.
    await worker?.stop();
    throw err;
  }
}

interface EndedWatch {
  /** VM id → when it reached running or failed (performance.now()). */
  running: Map<string, number>;
  failed: number;
  /** Resolves once `n` VMs ended. */
  finished: Promise<void>;
  /** Stops watching. */
  stop(): void;
}

/**
 * Each VM's end (VmStarted or VmOperationFailed) as the `vms` projection applies it, until stop():
 * the runtime goes on to the next sections (history, one VM), whose VMs the section's listener
 * would otherwise go on recording into a map nobody reads.
 */
function watchEnded(vms: ProjectionRunner, n: number): EndedWatch {
  let allDone!: () => void;
  const watch: EndedWatch = {
    running: new Map(),
    failed: 0,
    finished: new Promise<void>((r) => (allDone = r)),
    stop: () => vms.off('applied', onApplied),
  };
  const onApplied = (e: RecordedEvent) => {
    if (e.type !== 'VmStarted' && e.type !== 'VmOperationFailed') return;
    if (e.type === 'VmOperationFailed') watch.failed++;
    watch.running.set(e.streamId.slice(3), performance.now());
    if (watch.running.size >= n) allDone();
  };
  vms.on('applied', onApplied);
  return watch;
}

/** `n` creates through the whole path, answered and running, before the measured section (see `warmup`). */
async function warmUp(runtime: Runtime, base: string, n: number, concurrency: number): Promise<void> {
  const vms = runtime.projection('vms')!;
  let ended = 0;
  let allEnded!: () => void;
  const done = new Promise<void>((r) => (allEnded = r));
  const onApplied = (e: RecordedEvent) => {
    if (!e.streamId.startsWith('vm-') || (e.type !== 'VmStarted' && e.type !== 'VmOperationFailed')) return;
    if (++ended >= n) allEnded();
  };
  vms.on('applied', onApplied);
  try {
    await createsFromWorker({ base, token: TOKEN, n, concurrency, prefix: 'warmup-' });
    await done;
  } finally {
    vms.off('applied', onApplied);
  }
}

/** See ControlPlaneResult.turnCpu: the main thread's CPU between firings of a 5 ms timer. */
function watchTurnCpu(): { stop: () => { p99: number; max: number } | undefined } {
  const spans: number[] = [];
  let last = mainThreadSchedMs()?.onCpu;
  const timer = setInterval(() => {
    const now = mainThreadSchedMs()?.onCpu;
    if (now !== undefined && last !== undefined) spans.push(now - last);
    last = now;
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      if (spans.length === 0) return undefined;
      spans.sort((a, b) => a - b);
      return {
        p99: spans[Math.min(spans.length - 1, Math.floor(spans.length * 0.99))]!,
        max: spans[spans.length - 1]!,
      };
    },
  };
}
