/**
 * The simulated host's worker in a process of its own (`ROLE=worker`), as a deployment runs it on
 * a hypervisor host: the bench's API process then carries the HTTP edge and the control plane
 * only, and the worker's driver calls, BullMQ takes and result writes are charged to the worker.
 */
import { join } from 'node:path';
import type { QueueHub } from '../src/workers/queue-hub.js';
import { cpuSeconds } from '../chaos/support/load-figures.js';
import { NodeProc } from '../chaos/support/node-proc.js';
import { waitFor } from '../test/support/wait.js';
import { row, type Summary } from './stats.js';

export class BenchWorkerProcess {
  private constructor(private readonly proc: NodeProc) {}

  /**
   * Starts `node dist/src/main.js --role worker` for `hostId` with the API process's settings, and
   * resolves once its first heartbeat for the host is in Redis (it consumes the host's queue).
   */
  static async start(opts: {
    env: Record<string, string>;
    hostId: string;
    dataDir: string;
    hub: QueueHub;
  }): Promise<BenchWorkerProcess> {
    // As in --scale-out: BENCH_CHILD_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" profiles the worker process.
    const nodeArgs = process.env.BENCH_CHILD_NODE_ARGS?.split(' ').filter(Boolean);
    const proc = new NodeProc({
      name: 'bench-worker',
      ...(nodeArgs?.length ? { nodeArgs } : {}),
      env: { ...opts.env, ROLE: 'worker', WORKER_HOSTS: opts.hostId },
      logFile: join(opts.dataDir, 'bench-worker.log'),
    });
    proc.start();
    const w = new BenchWorkerProcess(proc);
    try {
      await waitFor(
        async () => {
          if (!proc.running) throw new Error(`the bench's worker process exited; see ${proc.opts.logFile}`);
          return (await opts.hub.heartbeats())[opts.hostId] !== undefined;
        },
        { what: 'the worker process to serve the bench host', timeoutMs: 60_000, intervalMs: 50 },
      );
    } catch (err) {
      await w.stop();
      throw err;
    }
    return w;
  }

  /** The worker process's CPU time so far (every thread), ms. */
  cpuMs(): number {
    const pid = this.proc.pid;
    return pid === undefined ? 0 : cpuSeconds(pid) * 1000;
  }

  async stop(): Promise<void> {
    await this.proc.stop(5000);
  }
}

interface CreateTimings {
  accept: Summary;
  serverPost: Summary;
  appends: Summary;
  loopDelay: { p50: number; p99: number; max: number };
  toRunning: Summary;
  failed: number;
}

/** The latencies and throughput of a create section, in the same rows for both topologies. */
export function printCreateTimings(r: CreateTimings): void {
  console.log(row('create: POST /v1/vms → 202 accepted', r.accept));
  console.log(row('  the server’s own: POST /v1/vms (timing middleware)', r.serverPost));
  console.log(row('  the server’s own: store append (all, in the section)', r.appends));
  console.log(
    `  main event loop delay in the section: p50 ${r.loopDelay.p50.toFixed(1)} ms, p99 ${r.loopDelay.p99.toFixed(1)} ms, max ${r.loopDelay.max.toFixed(0)} ms`,
  );
  console.log(row('create: accept → running (whole path)', r.toRunning));
  console.log(`  creates/s end to end: ${r.toRunning.perSecond.toFixed(1)}   failed: ${r.failed}`);
}

/** The create section's main figures for the split topology, printed beside the all-in-one ones. */
export function printWorkerProcessSection(
  r: CreateTimings & {
    cpuMsPerCreate: number;
    clientCpuMsPerCreate?: number;
    mainThreadCpuMsPerCreate?: number;
    mainLoopBusy: number;
    workerCpuMsPerCreate?: number;
  },
): void {
  console.log('\nsection: the same creates, the host worker in its own process (API ROLE=api + ROLE=worker)');
  printCreateTimings(r);
  console.log(
    `  CPU per create: API process ${r.cpuMsPerCreate.toFixed(1)} ms (all threads, the bench's client thread ${r.clientCpuMsPerCreate?.toFixed(1) ?? '-'} ms of it; main thread ${r.mainThreadCpuMsPerCreate?.toFixed(1) ?? '-'} ms,` +
      ` event loop busy ${(100 * r.mainLoopBusy).toFixed(0)} %), worker process ${r.workerCpuMsPerCreate?.toFixed(1) ?? '-'} ms`,
  );
}
