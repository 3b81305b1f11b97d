import { Redis } from 'ioredis';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPrivateRedis } from '../src/runtime/private-redis.js';
import { deleteKeysWithPrefix } from '../src/projections/redis-keys.js';
import { appendBaseline, bullmqBaseline } from './baselines.js';
import { controlPlaneBench } from './control-plane.js';
import { printCreateTimings, printWorkerProcessSection } from './worker-process.js';
import { oneHostHistory, oneVmHistory, printGrowthCosts } from './history.js';
import { attachProbe } from './history-probe.js';
import { hostDecider } from '../src/domain/host/host.decider.js';
import { hostStream } from '../src/domain/streams.js';
import { qemuSection } from './qemu.js';
import { printReplay, seededReplayBench } from './replay.js';
import { printSeals, sealsBench } from './seals.js';
import { fleetAtBench, printFleetAt } from './fleet-at.js';
import { httpAdaptersBench, printHttpAdapters } from './http-adapters.js';
import { row } from './stats.js';
import { printTargets } from './targets.js';
import { scaleOutBench } from './scale-out.js';
import { dropSchema } from './pg-schema.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : (process.env[`BENCH_${name.toUpperCase()}`] ?? dflt);
}

async function wipe(redisUrl: string, prefix: string): Promise<void> {
  const r = new Redis(redisUrl);
  await deleteKeysWithPrefix(r, prefix);
  r.disconnect();
}

/** SQLite: the seal bench's own temp file (undefined); PostgreSQL: the same server, a schema of its own. */
function sealStoreUrl(storeUrl: string, section = 'seals'): string | undefined {
  if (!storeUrl.startsWith('postgres')) return undefined;
  const u = new URL(storeUrl);
  u.searchParams.set('schema', `vlbench_${section}_${process.pid}`);
  return u.toString();
}

const HELP = `npm run bench -- [options]   (each option also reads BENCH_<NAME>)
  --n <500>            creates through the whole path
  --concurrency <32>   creates in flight
  --no-worker-process  skip the second create section (the host worker in a process of its own, ROLE=api +
                       ROLE=worker; the first, whose figures the targets use, is one ROLE=all process)
                       (node dist/bench/creates.js --worker own-process runs it alone)
  --ops <1000>         stop/start operations on one VM, sequential (#14 target: 5000)
  --churn <500>        VMs created and deleted on one host, sequential (#14 target: 5000)
  --store <url>        sqlite:events.sqlite3 (default) or postgres://…
  --seal-n <20000>     events for the seal bench
  --replay-n <100000>  events seeded straight into a store of their own for the rebuild and replay-check figures
                       (also: node dist/bench/replay.js --n <events> [--store <url>])
                       (the create section alone, for A/B runs: node dist/bench/creates.js --n <400> [--store <url>])
  --qemu-n <8>         qemu creates; --no-qemu skips the qemu section
  --qemu-only          only the qemu section (create and live migration vs direct QMP, per-phase breakdown)
  --replay-only        only the replay section on --replay-n seeded events: the raw read, each read model's full
                       rebuild and the replay check (--checks <1> checks, the median CPU one reported), on --store
  --http-n <3000>      requests per adapter in the express/fastify comparison; --no-http skips it
  --scale-out          only the scale-out section: the creates through real processes in three topologies
                       (one ROLE=all process; split: HTTP process + control-plane owner + worker; 3 API processes
                       + worker), on --store postgres://…, which it needs; each as a ratio to raw BullMQ
  --topologies <a,b>   with --scale-out: only these of one,split,three
  --rounds <1>         with --scale-out: rounds of the topologies (order reversed every other round), then medians;
                       without REDIS_URL it runs its own redis-server (exact Redis commands per create)
                       (BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles every child process)
REDIS_URL uses that Redis; otherwise a private one is started.`;

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    console.log(HELP);
    return;
  }
  const n = Number(arg('n', '500'));
  const concurrency = Number(arg('concurrency', '32'));
  if (process.argv.includes('--scale-out')) {
    const url = process.env.REDIS_URL;
    const only = arg('topologies', '').split(',').filter(Boolean);
    await scaleOutBench({
      redisUrl: url,
      storeUrl: arg('store', ''),
      n,
      concurrency,
      only,
      rounds: Number(arg('rounds', '1')),
    });
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'vl-bench-'));
  const log = pino({ level: 'silent' });
  const priv = process.env.REDIS_URL ? undefined : await startPrivateRedis(dataDir, log);
  const redisUrl = process.env.REDIS_URL ?? priv!.url;
  const prefix = `vlbench${process.pid}`;
  const qemu = () =>
    qemuSection({
      redisUrl,
      prefix: `${prefix}:qemu`,
      n: Number(arg('qemu-n', '8')),
      disabled: process.argv.includes('--no-qemu'),
    });
  const storeUrl = arg('store', 'sqlite:events.sqlite3');
  const replay = (checks?: number) =>
    seededReplayBench({
      redisUrl,
      storeUrl: sealStoreUrl(storeUrl, 'replay'),
      n: Number(arg('replay-n', '100000')),
      ...(checks !== undefined ? { checks } : {}),
    });
  // One section alone, for A/B runs that need only its figures (the whole bench takes many minutes).
  const alone = process.argv.includes('--qemu-only') ? 'qemu' : process.argv.includes('--replay-only') ? 'replay' : '';
  if (alone) {
    try {
      console.log(
        `virtledger bench, ${alone} section only: redis=${redisUrl}, node ${process.version}, ${new Date().toISOString()}`,
      );
      if (alone === 'qemu') await qemu();
      else printReplay(await replay(Number(arg('checks', '1'))));
    } finally {
      await wipe(redisUrl, prefix).catch(() => undefined);
      await priv?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    return;
  }
  console.log(`virtledger bench: n=${n} concurrency=${concurrency} store=${storeUrl.split('?')[0]} redis=${redisUrl}`);
  console.log(`node ${process.version}, ${new Date().toISOString()}\n`);
  const workerProcessCreates = async () => {
    const splitStore = sealStoreUrl(storeUrl, 'split');
    const splitDir = join(dataDir, 'split');
    mkdirSync(splitDir);
    try {
      const r = await controlPlaneBench({
        redisUrl,
        prefix: `${prefix}split`,
        dataDir: splitDir,
        eventStoreUrl: splitStore ?? storeUrl,
        n,
        concurrency,
        workerProcess: true,
      });
      await r.close();
      return r;
    } finally {
      if (splitStore) await dropSchema(splitStore).catch(() => undefined);
    }
  };
  try {
    const cp = await controlPlaneBench({ redisUrl, prefix, dataDir, eventStoreUrl: storeUrl, n, concurrency });
    // Sequential histories: does a command cost more once its stream is long (#14: last-100 / first-100 p50)?
    // Counted per operation (store reads, Redis bytes, CPU, record sizes): what grows shows even when the machine's load hides it.
    const aggregates = cp.runtime.controlPlane!.aggregates;
    const probe = attachProbe(
      cp.runtime.store!,
      cp.runtime.redis,
      cp.runtime.keys.root,
      async (id) => (await aggregates.load(hostDecider, hostStream(id))).state,
    );
    const histories = [
      await oneVmHistory(cp.api, cp.hostId, Number(arg('ops', '1000')), probe),
      await oneHostHistory(cp.api, cp.hostId, Number(arg('churn', '500')), probe),
    ];
    const storeForBaseline = cp.runtime.store!;
    const append = await appendBaseline(storeForBaseline, n, concurrency);
    await cp.close();
    // The same creates as deployed: the host's worker apart, so the API process's CPU is its own.
    const split = process.argv.includes('--no-worker-process') ? undefined : await workerProcessCreates();
    // Rebuilds on a seeded log of --replay-n events (the control plane's few thousand measure fixed costs).
    const replayed = await replay();
    const bull = await bullmqBaseline(redisUrl, `${prefix}raw`, n, concurrency);

    console.log('section: control plane (simulated driver, latency 0)');
    printCreateTimings(cp);
    console.log(`  RSS: ${cp.rssStartMiB.toFixed(0)} MiB at start, ${cp.rssEndMiB.toFixed(0)} MiB at end`);
    console.log(
      `  CPU per create: ${cp.cpuMsPerCreate.toFixed(1)} ms (whole process, all threads` +
        (cp.clientCpuMsPerCreate !== undefined
          ? `, the bench's client thread ${cp.clientCpuMsPerCreate.toFixed(1)} ms of it`
          : '') +
        (cp.mainThreadCpuMsPerCreate !== undefined
          ? `; main thread ${cp.mainThreadCpuMsPerCreate.toFixed(1)} ms`
          : '') +
        ');' +
        ` main event loop busy ${(100 * cp.mainLoopBusy).toFixed(0)} % of the section` +
        (cp.appendsPerCommit !== undefined ? `; ${cp.appendsPerCommit.toFixed(2)} appends per SQLite commit` : ''),
    );
    console.log(
      `  store calls per create: ${Object.entries(cp.storeCallsPerCreate)
        .map(([m, c]) => `${m} ${c.toFixed(1)}`)
        .join(', ')}`,
    );
    const redisPerCreate = cp.redisCallsPerCreate.reduce((sum, [, c]) => sum + c, 0);
    console.log(
      `  Redis per create: ${redisPerCreate.toFixed(1)} commands (${cp.redisCallsPerCreate
        .slice(0, 6)
        .map(([m, c]) => `${m} ${c.toFixed(1)}`)
        .join(', ')}, …), redis-server CPU ${cp.redisCpuMsPerCreate.toFixed(2)} ms` +
        (process.env.REDIS_URL ? ' (server-wide: other clients included)' : ''),
    );
    if (split) printWorkerProcessSection(split);
    console.log('\nsection: baselines measured in the same run');
    console.log(row('raw BullMQ add → processed', bull));
    console.log(row(`raw store append (${storeForBaseline.kind}, 1 event, new stream)`, append));
    // create → place → defined → started: four decided appends and one job (define then start, one job since #14)
    const stepsPerCreate = 4;
    console.log(
      `\n  ratio: one create = ${stepsPerCreate} appends + 1 job; p50 accept→running / (BullMQ p50 + 4×append p50) = ` +
        (cp.toRunning.p50 / (bull.p50 + stepsPerCreate * append.p50)).toFixed(2),
    );
    console.log('\nsection: cost against history (sequential, POST → operation done)');
    for (const h of histories) console.log(row(h.what, h.all));
    if (process.env.REDIS_URL)
      console.log('  (Redis counts are server-wide: with REDIS_URL they include other clients)');
    for (const h of histories) printGrowthCosts(h);
    printReplay(replayed);
    printTargets({
      store: storeForBaseline.kind,
      concurrency,
      accept: cp.accept,
      toRunning: cp.toRunning,
      bull,
      append,
      histories,
      replay: replayed,
    });
    if (!process.argv.includes('--no-http'))
      printHttpAdapters(await httpAdaptersBench(Number(arg('http-n', '3000')), concurrency), cp.accept.p50);
    // Seal cost per 1000 events and verify speed, on the same kind of store in its own place.
    printSeals(await sealsBench(sealStoreUrl(storeUrl), Number(arg('seal-n', '20000'))));
    // The fleet at an instant on a 100k-event log, against a full replay to that instant.
    printFleetAt(await fleetAtBench(sealStoreUrl(storeUrl, 'fleet'), Number(arg('fleet-n', '100000'))));
    await qemu();
  } finally {
    await wipe(redisUrl, prefix).catch(() => undefined);
    await priv?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
