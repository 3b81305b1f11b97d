import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPrivateRedis } from '../src/runtime/private-redis.js';
import { deleteKeysWithPrefix } from '../src/projections/redis-keys.js';
import { appendBaseline, bullmqBaseline } from './baselines.js';
import { controlPlaneBench } from './control-plane.js';
import { qemuSection } from './qemu.js';
import { printReplay, replayBench } from './replay.js';
import { printSeals, sealsBench } from './seals.js';
import { fleetAtBench, printFleetAt } from './fleet-at.js';
import { row } from './stats.js';

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

async function main(): Promise<void> {
  const n = Number(arg('n', '500'));
  const concurrency = Number(arg('concurrency', '32'));
  const dataDir = mkdtempSync(join(tmpdir(), 'vl-bench-'));
  const log = pino({ level: 'silent' });
  const priv = process.env.REDIS_URL ? undefined : await startPrivateRedis(dataDir, log);
  const redisUrl = process.env.REDIS_URL ?? priv!.url;
  const prefix = `vlbench${process.pid}`;
  const storeUrl = arg('store', 'sqlite:events.sqlite3');
  console.log(`virtledger bench: n=${n} concurrency=${concurrency} store=${storeUrl.split('?')[0]} redis=${redisUrl}`);
  console.log(`node ${process.version}, ${new Date().toISOString()}\n`);
  try {
    const cp = await controlPlaneBench({ redisUrl, prefix, dataDir, eventStoreUrl: storeUrl, n, concurrency });
    const storeForBaseline = cp.runtime.store!;
    const append = await appendBaseline(storeForBaseline, n, concurrency);
    const replay = await replayBench(cp.runtime);
    await cp.close();
    const bull = await bullmqBaseline(redisUrl, `${prefix}raw`, n, concurrency);

    console.log('section: control plane (simulated driver, latency 0)');
    console.log(row('create: POST /v1/vms → 202 accepted', cp.accept));
    console.log(row('create: accept → running (whole path)', cp.toRunning));
    console.log(`  creates/s end to end: ${cp.toRunning.perSecond.toFixed(1)}   failed: ${cp.failed}`);
    console.log(`  RSS: ${cp.rssStartMiB.toFixed(0)} MiB at start, ${cp.rssEndMiB.toFixed(0)} MiB at end`);
    console.log('\nsection: baselines measured in the same run');
    console.log(row('raw BullMQ add → processed', bull));
    console.log(row(`raw store append (${storeForBaseline.kind}, 1 event, new stream)`, append));
    const stepsPerCreate = 4; // create → place → define → start: four decided appends and two jobs
    console.log(
      `\n  ratio: one create = ${stepsPerCreate} appends + 2 jobs; p50 accept→running / (2×BullMQ p50 + 4×append p50) = ` +
        (cp.toRunning.p50 / (2 * bull.p50 + stepsPerCreate * append.p50)).toFixed(2),
    );
    printReplay(replay);
    // Seal cost per 1000 events and verify speed, on the same kind of store in its own place.
    printSeals(await sealsBench(sealStoreUrl(storeUrl), Number(arg('seal-n', '20000'))));
    // The fleet at an instant on a 100k-event log, against a full replay to that instant.
    printFleetAt(await fleetAtBench(sealStoreUrl(storeUrl, 'fleet'), Number(arg('fleet-n', '100000'))));
    await qemuSection({
      redisUrl,
      prefix: `${prefix}:qemu`,
      n: Number(arg('qemu-n', '8')),
      disabled: process.argv.includes('--no-qemu'),
    });
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
