/**
 * What one read model's full rebuild costs, repeated on one seeded log, for A/B
 * runs on a shared machine where wall time says little:
 *   node dist/bench/rebuild-cost.js [--projection vms] [--n 50000] [--reps 3] [--seed-file f.sqlite3]
 *     [--store postgres://…?schema=…]
 * Per rebuild: this process's CPU per event, the Redis commands it sent (by name),
 * and the rebuild's own phases from its log line (count, replay, paused ms: the
 * pause is what the live read model waits for). With `--seed-file` the seeded
 * SQLite log is kept and reused (copied per run), so two builds can be run one
 * after the other on the same log without seeding again. With `--store` the log is that
 * store's: seeded when empty, kept afterwards (two builds read the same log; drop the
 * schema when done). REDIS_URL as replay.ts.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createEventStore } from '../src/eventstore/create-event-store.js';
import { PROJECTIONS } from '../src/projections/projection-catalog.js';
import { ProjectionRebuilds } from '../src/projections/projection-rebuilds.js';
import { ProjectionRunner } from '../src/projections/projection-runner.js';
import { ReadModelKeys } from '../src/projections/read-model.keys.js';
import { ReadModels } from '../src/projections/read-models.js';
import { deleteKeysWithPrefix } from '../src/projections/redis-keys.js';
import { watchGc } from './gc-stats.js';
import { catchUp, maintenanceDeps } from './live-runners.js';
import { seedLog } from './seed-log.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
};

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Redis commands sent by this process, by name (every connection, pipelines and MULTIs included). */
const sent = new Map<string, number>();
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<Redis['sendCommand']>) {
  const name = args[0].name;
  sent.set(name, (sent.get(name) ?? 0) + 1);
  return sendCommand.apply(this, args);
};

/** The fields of the rebuild's "rebuilt and swapped in" log line that say where its time went. */
interface RebuildLog {
  msg?: string;
  countMs?: number;
  replayMs?: number;
  pausedMs?: number;
  swapped?: number;
}

async function main(): Promise<void> {
  const name = arg('projection', 'vms');
  const n = Number(arg('n', '50000'));
  const reps = Number(arg('reps', '3'));
  const seedFile = arg('seed-file', '');
  const storeUrl = arg('store', '');
  if (!Object.hasOwn(PROJECTIONS, name)) throw new Error(`unknown projection ${name}`);
  const dir = mkdtempSync(join(tmpdir(), 'vl-rebuild-cost-'));
  const file = join(dir, 'events.sqlite3');
  if (!storeUrl && seedFile && existsSync(seedFile)) copyFileSync(seedFile, file);
  const store = createEventStore(storeUrl || `sqlite:${file}`, { dataDir: dir });
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `vlrebuildcost${process.pid}`;
  const keys = new ReadModelKeys(prefix);
  const lines: RebuildLog[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as RebuildLog);
      done();
    },
  });
  const log = pino({ level: 'info' }, sink);
  // The rebuilt read model, and vms (where the rebuild's operation is read back) when it is another.
  const names = name === 'vms' ? ['vms'] : [name, 'vms'];
  const runners = names.map((p) => new ProjectionRunner(PROJECTIONS[p]!(keys), store, redis, keys, log));
  try {
    await store.init();
    if ((await store.headPosition()) === undefined) {
      console.log(`seeded ${await seedLog(store, n)} events`);
      if (seedFile && !storeUrl) copyFileSync(file, seedFile);
    }
    await catchUp(runners, (await store.headPosition())!);
    const deps = maintenanceDeps(store, redis, keys, log, runners);
    const rebuilds = new ProjectionRebuilds(deps);
    const readModels = new ReadModels(redis, keys);
    const cpus: number[] = [];
    for (let rep = 0; rep < reps; rep++) {
      sent.clear();
      lines.length = 0;
      const t0 = performance.now();
      const c0 = cpuMs();
      const gc = watchGc();
      const { operationId } = await rebuilds.start(name, 'user:bench');
      let events = 0;
      for (;;) {
        const op = await readModels.getOperation(operationId);
        if (op?.status === 'failed') throw new Error(`rebuild of ${name} failed: ${op.error}`);
        if (op?.status === 'succeeded') {
          events = op.progress?.total ?? 0;
          break;
        }
        await sleep(5);
      }
      const cpuUs = ((cpuMs() - c0) * 1000) / events;
      const gcs = await gc.stop();
      cpus.push(cpuUs);
      const done = lines.find((l) => l.msg === 'projection rebuilt and swapped in');
      const commands = [...sent].sort((a, b) => b[1] - a[1]);
      const total = commands.reduce((s, [, c]) => s + c, 0);
      console.log(
        `rebuild ${name} #${rep}: ${events} events in ${(performance.now() - t0).toFixed(0)} ms; CPU ${cpuUs.toFixed(1)} µs/event; ` +
          `GC ${gcs.scavenges} scavenges, ${gcs.markCompacts} mark-compacts, ${gcs.pauseMs.toFixed(0)} ms paused; ` +
          `count ${done?.countMs} ms, replay ${done?.replayMs} ms, paused ${done?.pausedMs} ms, ${done?.swapped} keys swapped; ` +
          `${total} Redis commands (${commands
            .slice(0, 6)
            .map(([c, k]) => `${c} ${k}`)
            .join(', ')})`,
      );
    }
    const sorted = [...cpus].sort((a, b) => a - b);
    console.log(`median CPU ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} µs/event over ${reps} rebuilds`);
  } finally {
    await Promise.all(runners.map((r) => r.close()));
    await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
