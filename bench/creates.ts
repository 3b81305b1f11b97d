/**
 * The bench's create section alone, for A/B runs of the job path: N creates through the whole
 * path, then what one create cost in calls and CPU (figures the machine's load moves less than
 * creates/s). Without REDIS_URL it runs its own redis-server, so the Redis figures are exact.
 *
 *   node dist/bench/creates.js [--n 400] [--concurrency 32] [--store sqlite:events.sqlite3|postgres://…]
 *                              [--worker in-process|own-process] [--alloc [profile.heapprofile]] [--warmup 0]
 *
 * `--worker own-process` runs the simulated host's worker as `--role worker` in a process of its
 * own (as a hypervisor host does) and the measured process as `--role api`; the default keeps the
 * one all-in-one process (ROLE=all) every earlier figure was measured with. `--alloc` samples the
 * main isolate's allocations in the section (KiB per create; with a path, the profile is written
 * there for DevTools): the sampling costs CPU, so take CPU figures from runs without it. `--warmup N` runs N
 * creates to completion first, unmeasured, so that the section measures JIT-warm code (the default 0 keeps
 * the figures comparable with every earlier run, which measured the server's first 400 POSTs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPrivateRedis } from '../src/runtime/private-redis.js';
import { controlPlaneBench } from './control-plane.js';
import { row } from './stats.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

function allocOption(): { profileFile?: string } {
  const next = process.argv[process.argv.indexOf('--alloc') + 1];
  return next && !next.startsWith('--') ? { profileFile: next } : {};
}

async function main(): Promise<void> {
  const n = Number(arg('n', '400'));
  const concurrency = Number(arg('concurrency', '32'));
  const workerMode = arg('worker', 'in-process');
  if (workerMode !== 'in-process' && workerMode !== 'own-process')
    throw new Error(`--worker must be in-process or own-process, not ${workerMode}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'vl-creates-'));
  const priv = process.env.REDIS_URL ? undefined : await startPrivateRedis(dataDir, pino({ level: 'silent' }));
  const redisUrl = process.env.REDIS_URL ?? priv!.url;
  try {
    const cp = await controlPlaneBench({
      redisUrl,
      prefix: `vlcreates${process.pid}`,
      dataDir,
      eventStoreUrl: arg('store', 'sqlite:events.sqlite3'),
      n,
      concurrency,
      workerProcess: workerMode === 'own-process',
      warmup: Number(arg('warmup', '0')),
      ...(process.argv.includes('--alloc') ? { allocations: allocOption() } : {}),
    });
    await cp.close();
    const redisTotal = cp.redisCallsPerCreate.reduce((a, [, c]) => a + c, 0);
    console.log(
      workerMode === 'own-process'
        ? 'topology: API process (ROLE=api) + the host worker in its own process (ROLE=worker)'
        : 'topology: one process (ROLE=all: HTTP, control plane and the host worker)',
    );
    console.log(row('create: POST → 202', cp.accept));
    if (cp.acceptMainCpu) console.log(row('  the same in main-thread CPU ms meanwhile', cp.acceptMainCpu, 'cpu-ms'));
    console.log(row('  the server’s own: POST /v1/vms (timing middleware)', cp.serverPost));
    console.log(row('  the server’s own: store append (all, in the section)', cp.appends));
    console.log(
      `  main event loop delay in the section: p50 ${cp.loopDelay.p50.toFixed(1)} ms, p99 ${cp.loopDelay.p99.toFixed(1)} ms, max ${cp.loopDelay.max.toFixed(0)} ms`,
    );
    if (cp.turnCpu)
      console.log(
        `  main-thread CPU between firings of a 5 ms timer (a loop turn, in CPU): p99 ${cp.turnCpu.p99.toFixed(1)} ms, max ${cp.turnCpu.max.toFixed(1)} ms`,
      );
    const pp = cp.postPhase;
    const clientCores =
      cp.clientCpuMsPerCreate !== undefined
        ? ` (the bench's client thread ${((cp.clientCpuMsPerCreate * n) / pp.ms).toFixed(2)})`
        : '';
    console.log(
      `  the POSTs' window: ${pp.ms.toFixed(0)} ms, ${pp.perSecond.toFixed(0)} POST/s; Little's law ${concurrency} ÷ that = ` +
        `${((concurrency / pp.perSecond) * 1000).toFixed(1)} ms mean; process CPU ${pp.processCores.toFixed(2)} cores${clientCores}, ` +
        `main thread ${pp.mainThreadCores?.toFixed(2) ?? '-'} cores, its loop busy ${(pp.mainLoopBusy * 100).toFixed(0)} %` +
        (pp.mainWaitingForCore !== undefined
          ? `, waiting for a core ${(pp.mainWaitingForCore * 100).toFixed(0)} %`
          : ''),
    );
    console.log(row('create: accept → running (whole path)', cp.toRunning));
    console.log(`failed: ${cp.failed}${priv ? '' : '   (REDIS_URL: Redis figures are server-wide)'}`);
    console.log(
      `cpu ms/create: node ${cp.cpuMsPerCreate.toFixed(2)} (main thread ${cp.mainThreadCpuMsPerCreate?.toFixed(2) ?? '-'}, loop busy ${(cp.mainLoopBusy * 100).toFixed(0)} %)  redis ${cp.redisCpuMsPerCreate.toFixed(2)}`,
    );
    if (cp.clientCpuMsPerCreate !== undefined)
      console.log(
        `cpu ms/create, the bench's client thread (in "node" above): ${cp.clientCpuMsPerCreate.toFixed(2)}; node less it ${(cp.cpuMsPerCreate - cp.clientCpuMsPerCreate).toFixed(2)}`,
      );
    if (cp.threadCpuMsPerCreate)
      console.log(
        `cpu ms/create by thread (Linux id; ${process.pid} is the main thread): ${cp.threadCpuMsPerCreate
          .map(([id, ms]) => `${id} ${ms.toFixed(2)}`)
          .join(', ')}`,
      );
    if (cp.workerCpuMsPerCreate !== undefined)
      console.log(
        `cpu ms/create, worker process: ${cp.workerCpuMsPerCreate.toFixed(2)} (API process + worker ${(cp.cpuMsPerCreate + cp.workerCpuMsPerCreate).toFixed(2)})`,
      );
    console.log(
      `gc (main isolate) per create: scavenges ${(cp.gc.scavenges / n).toFixed(3)}, mark-compacts ${(cp.gc.markCompacts / n).toFixed(4)}, pause ${(cp.gc.pauseMs / n).toFixed(3)} ms` +
        (cp.allocatedBytes !== undefined
          ? `; allocated ${(cp.allocatedBytes / 1024 / n).toFixed(1)} KiB (sampled)`
          : '') +
        (cp.writeSyscalls !== undefined ? `; write syscalls (process) ${(cp.writeSyscalls / n).toFixed(1)}` : ''),
    );
    console.log(
      `store calls/create: ${Object.entries(cp.storeCallsPerCreate)
        .map(([m, c]) => `${m} ${c.toFixed(2)}`)
        .join(', ')}`,
    );
    if (cp.commitsPerCreate !== undefined)
      console.log(
        `sqlite commits (fsyncs)/create: ${cp.commitsPerCreate.toFixed(2)}, appends per commit ${cp.appendsPerCommit?.toFixed(2) ?? '-'}`,
      );
    console.log(`redis commands/create: ${redisTotal.toFixed(1)}`);
    for (const [cmd, c] of cp.redisCallsPerCreate) console.log(`  ${cmd.padEnd(24)} ${c.toFixed(2)}`);
  } finally {
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
