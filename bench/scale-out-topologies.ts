/**
 * The process layouts the scale-out bench compares on one host, and the CPU
 * each process uses (read from /proc, every thread), which the machine's other
 * load moves far less than wall-clock figures.
 */
import { cpuSeconds } from '../chaos/support/load-figures.js';
import type { Summary } from './stats.js';

export interface Topology {
  key: string;
  name: string;
  /** API processes (ROLE=`role`), started one after another: the first owns the control-plane lease. */
  apis: number;
  role: 'api' | 'all';
  /** A host worker process of its own (ROLE=worker); with role all the processes run the host themselves. */
  worker: boolean;
  /** Whether the balancer sends HTTP to the lease owner too (split: no, it keeps its CPU for sagas and projections). */
  httpToOwner: boolean;
}

export const TOPOLOGIES: Topology[] = [
  {
    key: 'one',
    name: 'one process (ROLE=all: HTTP, sagas, projections, host worker)',
    apis: 1,
    role: 'all',
    worker: false,
    httpToOwner: true,
  },
  {
    key: 'split',
    name: 'split: 1 HTTP process + 1 control-plane owner (both ROLE=api, no HTTP to the owner) + 1 worker (ROLE=worker)',
    apis: 2,
    role: 'api',
    worker: true,
    httpToOwner: false,
  },
  {
    key: 'three',
    name: '3 API processes (ROLE=api, HTTP round-robin over all three) + 1 worker (ROLE=worker)',
    apis: 3,
    role: 'api',
    worker: true,
    httpToOwner: true,
  },
];

export interface ProcessFigure {
  label: string;
  /** CPU ms per create over the measured section (every thread of the process). */
  cpuMsPerCreate: number;
  /** CPU ms per second while no create was in flight (lease renewals, polls, timers). */
  idleCpuMsPerS: number;
}

/** CPU seconds of each process so far (0 once it is gone). */
export class ProcessCpu {
  constructor(private readonly procs: Array<{ label: string; pid: number | undefined }>) {}

  read(): number[] {
    return this.procs.map((p) => (p.pid === undefined ? 0 : cpuSeconds(p.pid)));
  }

  /** CPU ms per second of each process over `ms` of no load. */
  async idle(ms: number): Promise<number[]> {
    const a = this.read();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, ms));
    const secs = (performance.now() - t0) / 1000;
    return this.read().map((c, i) => ((c - a[i]!) * 1000) / secs);
  }

  perCreate(before: number[], n: number, idle: number[]): ProcessFigure[] {
    const now = this.read();
    return this.procs.map((p, i) => ({
      label: p.label,
      cpuMsPerCreate: ((now[i]! - before[i]!) * 1000) / n,
      idleCpuMsPerS: idle[i]!,
    }));
  }
}

/** Creates sent to each HTTP process before measuring: every process has loaded its code and warmed its JIT. */
export const WARMUP_PER_PROCESS = 10;

export interface ScaleOutRun {
  topology: Topology;
  accept: Summary;
  toRunning: Summary;
  failed: number;
  /** Every process's CPU per create in the measured section, and its CPU per second while idle before it. */
  processes: ProcessFigure[];
  /** CPU ms per create summed over every process of the topology (API, owner, worker). */
  totalCpuMs: number;
  /**
   * The same less what the processes spend idle (idle CPU/s × the section's wall time / n): the part
   * that is work per create. At a few creates/s each process's fixed cost per second weighs per create.
   */
  netCpuMs: number;
  /** Redis commands per create in the measured section, by command. */
  redisCalls: Array<[string, number]>;
  /** PostgreSQL table scans and rows inserted per create, warm-up and shutdown included (its statistics lag). */
  pgCalls: Array<[string, number]>;
}
