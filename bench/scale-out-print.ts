/** What the scale-out bench prints: each round's runs against raw BullMQ, and medians over the rounds. */
import { availableParallelism } from 'node:os';
import { WARMUP_PER_PROCESS, type ScaleOutRun, type Topology } from './scale-out-topologies.js';
import { row, type Summary } from './stats.js';

export function printScaleOut(
  runs: ScaleOutRun[],
  bull: Summary,
  opts: { n: number; concurrency: number; round: number },
  sharedRedis: boolean,
): void {
  const cores = availableParallelism();
  console.log(
    `section: scale out, round ${opts.round} (real processes on one PostgreSQL and one Redis, simulated host, latency 0; ` +
      `${cores} cores; n=${opts.n}, concurrency ${opts.concurrency}, after ${WARMUP_PER_PROCESS} warm-up creates per HTTP process)`,
  );
  console.log(row('raw BullMQ add → processed (same run)', bull));
  for (const r of runs) {
    console.log(`\n  ${r.topology.name}`);
    console.log(row('  POST /v1/vms → 202', r.accept));
    console.log(row('  accept → running', r.toRunning));
    console.log(
      `    creates/s end to end: ${r.toRunning.perSecond.toFixed(1)} = ${(r.toRunning.perSecond / bull.perSecond).toFixed(3)}× raw BullMQ` +
        `   failed: ${r.failed}   CPU per create, all processes: ${r.totalCpuMs.toFixed(2)} ms ` +
        `(at most ${((cores * 1000) / r.totalCpuMs).toFixed(0)} creates/s on ${cores} idle cores); ` +
        `less the idle cost over the section: ${r.netCpuMs.toFixed(2)} ms`,
    );
    for (const p of r.processes)
      console.log(
        `      ${p.label.padEnd(30)} ${p.cpuMsPerCreate.toFixed(2).padStart(7)} ms CPU per create; ` +
          `idle before the load ${p.idleCpuMsPerS.toFixed(1)} ms CPU/s`,
      );
    const calls = (c: Array<[string, number]>) => c.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
    const redisTotal = r.redisCalls.reduce((sum, [, v]) => sum + v, 0);
    console.log(
      `    Redis commands per create: ${redisTotal.toFixed(1)}${sharedRedis ? ' (server-wide: REDIS_URL is shared)' : ''}: ${calls(r.redisCalls)}`,
    );
    console.log(`    PostgreSQL per create (its schema): ${calls(r.pgCalls)}`);
  }
  const one = runs.find((r) => r.topology.key === 'one');
  if (one && runs.length > 1) {
    console.log('\n  ratio to one process:');
    for (const r of runs.filter((x) => x !== one))
      console.log(
        `    ${r.topology.key}: creates/s ${(r.toRunning.perSecond / one.toRunning.perSecond).toFixed(2)}×, ` +
          `POST → 202 p50 ${(r.accept.p50 / one.accept.p50).toFixed(2)}×, ` +
          `CPU per create ${(r.totalCpuMs / one.totalCpuMs).toFixed(2)}×, less idle ${(r.netCpuMs / one.netCpuMs).toFixed(2)}×`,
      );
  }
  console.log(
    `  (#14's target, 0.15× raw BullMQ, is ${(0.15 * bull.perSecond).toFixed(0)} creates/s here: on ${cores} cores that needs ` +
      `≤ ${((cores * 1000) / (0.15 * bull.perSecond)).toFixed(2)} ms CPU per create over every process)`,
  );
}

/** Per topology, the median over the rounds of creates/s as a ratio to that round's raw BullMQ, and of CPU per create. */
export function printMedians(chosen: Topology[], rounds: Array<{ runs: ScaleOutRun[]; bull: Summary }>): void {
  // The middle value, or the mean of the two middle ones (two rounds: their mean).
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
  };
  console.log(`\nsection: scale out, medians over ${rounds.length} rounds`);
  for (const t of chosen) {
    const mine = rounds.map(({ runs, bull }) => ({ r: runs.find((x) => x.topology.key === t.key)!, bull }));
    console.log(
      `  ${t.key.padEnd(6)} creates/s ${median(mine.map(({ r }) => r.toRunning.perSecond)).toFixed(1)}` +
        ` = ${median(mine.map(({ r, bull }) => r.toRunning.perSecond / bull.perSecond)).toFixed(3)}× raw BullMQ;` +
        ` CPU per create ${median(mine.map(({ r }) => r.totalCpuMs)).toFixed(2)} ms,` +
        ` less idle ${median(mine.map(({ r }) => r.netCpuMs)).toFixed(2)} ms;` +
        ` Redis commands per create ${median(mine.map(({ r }) => r.redisCalls.reduce((s, [, v]) => s + v, 0))).toFixed(1)}`,
    );
  }
}
