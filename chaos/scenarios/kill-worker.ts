/**
 * Fault 1: `kill -9` a worker process in the middle of driver calls, again and
 * again, while users run commands on their VMs. BullMQ finds the dead
 * worker's job stalled and hands it to the restarted worker, so the driver
 * call runs a second time: that must change nothing (idempotent verbs) and
 * append no second result.
 */
import { spawnSync } from 'node:child_process';
import { Cluster } from '../support/cluster.js';
import type { HostRef } from '../support/driver-check.js';
import { Operations } from '../support/operations.js';
import { mulberry32 } from '../../src/drivers/simulated/prng.js';
import { verdict, type ScenarioRow } from '../support/verdict.js';
import { createVms, runChains } from '../support/workload.js';

export interface KillWorkerSize {
  vms: number;
  commandsPerVm: number;
  /** Milliseconds between kills (randomised ±50 %). */
  killEveryMs: number;
  seed?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What main.ts prints once a worker's queues are consumed. */
const WORKER_READY = 'virtledger worker running';

/**
 * Kills `proc` -9 about `everyMs` after each start has come up, while `busy()`, restarting it
 * after a short pause; returns the kill count. The interval counts from the worker being ready,
 * not from its start: on a loaded machine a worker can take longer than `everyMs` to boot, and
 * kills timed from the start would land before it ever took a job (no driver call interrupted,
 * and no operation ever ending).
 */
async function killLoop(
  proc: { kill9(): Promise<void>; start(): void; printed(text: string): Promise<void> },
  everyMs: number,
  busy: () => boolean,
  seed: number,
  counter: { kills: number } = { kills: 0 },
): Promise<number> {
  const rnd = mulberry32(seed);
  let kills = 0;
  while (busy()) {
    await proc.printed(WORKER_READY);
    // The fault's timing, not a synchronisation: a random moment in the worker's working life.
    await sleep(everyMs * (0.5 + rnd()));
    if (!busy()) break;
    await proc.kill9();
    kills++;
    counter.kills = kills;
    await sleep(200 + rnd() * 500);
    proc.start();
  }
  return kills;
}

/** Simulated hosts with a driver latency long enough that most kills land inside a driver call. */
export async function runSimulated(size: KillWorkerSize): Promise<ScenarioRow> {
  const c = await Cluster.start({ name: 'kill-worker', env: { WORKER_CONCURRENCY: '8' } });
  let keep = false;
  try {
    await c.startApi('api');
    const uri = 'simulated://?latencyMs=400';
    const hostIds = [await c.registerHost('sim-a', 'simulated', uri), await c.registerHost('sim-b', 'simulated', uri)];
    const hosts: HostRef[] = hostIds.map((id) => ({ id, driver: 'simulated', uri, storageDir: c.hostStorage(id) }));
    const worker = c.worker('worker', hostIds);
    worker.start();
    const ops = new Operations(c.client);
    let busy = true;
    const counter = { kills: 0 };
    const killing = killLoop(worker, size.killEveryMs, () => busy, (size.seed ?? 1) * 7919, counter);
    const opTimeoutMs = 120000;
    try {
      // Another round until a kill landed: kills are timed from the worker being up, and a quick
      // machine can finish a round before the first one (a run with no fault proves nothing).
      for (let round = 0; round === 0 || (counter.kills === 0 && round < 6); round++) {
        const vmIds = await createVms(
          ops,
          Array.from({ length: size.vms }, (_, i) => ({
            name: `kw-${round}-${i}`,
            hostId: hostIds[i % hostIds.length]!,
          })),
          opTimeoutMs,
        );
        await runChains(c.client, ops, vmIds, {
          commandsPerVm: size.commandsPerVm,
          opTimeoutMs,
          seed: (size.seed ?? 1) + round,
          deleteEvery: 4,
        });
      }
    } finally {
      busy = false;
    }
    const kills = await killing;
    if (!worker.running) worker.start();
    await ops.waitAll(180000);
    const row = await verdict({ fault: 'kill -9 worker (simulated)', injected: kills, cluster: c, ops, hosts });
    keep = row.problems.length > 0;
    return row;
  } finally {
    await c.close(keep);
  }
}

export const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

/** Real QEMU under TCG: a couple of tiny VMs (no guest OS), the worker killed while QMP calls are in flight. */
export async function runQemu(size: KillWorkerSize): Promise<ScenarioRow> {
  const c = await Cluster.start({ name: 'kill-worker-qemu', env: { WORKER_CONCURRENCY: '4' } });
  let keep = false;
  try {
    const uri = 'qemu:///system?accel=tcg&stopTimeoutMs=2000';
    const { hostId, hosts, worker } = await c.startWithHost('qemu-a', 'qemu', uri);
    const ops = new Operations(c.client);
    let busy = true;
    const counter = { kills: 0 };
    const killing = killLoop(worker, size.killEveryMs, () => busy, (size.seed ?? 1) * 104729, counter);
    try {
      // Another round of VMs and commands until a kill landed: a quick machine may finish a round
      // before the first kill, and a run with no fault injected proves nothing.
      for (let round = 0; round === 0 || (counter.kills === 0 && round < 6); round++) {
        const vmIds = await createVms(
          ops,
          Array.from({ length: size.vms }, (_, i) => ({ name: `kq-${round}-${i}`, hostId })),
          180000,
        );
        await runChains(c.client, ops, vmIds, {
          commandsPerVm: size.commandsPerVm,
          opTimeoutMs: 180000,
          seed: (size.seed ?? 1) + round,
          deleteEvery: 2,
        });
      }
    } finally {
      busy = false;
    }
    const kills = await killing;
    if (!worker.running) worker.start();
    await ops.waitAll(240000);
    const row = await verdict({
      fault: 'kill -9 worker (qemu)',
      injected: kills,
      cluster: c,
      ops,
      hosts,
      qemuDirs: [c.hostStorage(hostId)],
    });
    keep = row.problems.length > 0;
    return row;
  } finally {
    await c.close(keep);
  }
}

/** Full size: 200 commands across 20 simulated VMs, plus a qemu round with 2 VMs. */
export async function run(opts: { quick?: boolean }): Promise<ScenarioRow[]> {
  const rows = [
    await runSimulated(
      opts.quick ? { vms: 4, commandsPerVm: 5, killEveryMs: 2500 } : { vms: 20, commandsPerVm: 9, killEveryMs: 2500 },
    ),
  ];
  if (hasQemu) rows.push(await runQemu({ vms: 2, commandsPerVm: opts.quick ? 4 : 8, killEveryMs: 3000 }));
  return rows;
}
