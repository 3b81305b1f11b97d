import { spawnDetached } from '../src/drivers/kit/spawn-detached.js';
import { SpawnHelper } from '../src/drivers/kit/spawn-helper.js';
import { median } from './qemu-phases.js';

const N = 30;

interface Cost {
  /** The spawn's synchronous part: how long it held this process's event loop. */
  blockedMs: number;
  /**
   * CPU of this process during the call itself (the fork's page-table copy lands here); not
   * the wait for the helper's answer, when this process's other work runs and would be counted.
   */
  cpuMs: number;
  /** Until the pid is known (the program has exec'd). */
  wallMs: number;
}

/**
 * What one spawn costs this process: `/bin/true` spawned detached from here (a fork of this
 * large process) and through a spawn helper (kit/spawn-helper.ts: the small helper forks),
 * alternately, N of each; medians.
 */
export async function spawnCost(): Promise<{ rssMiB: number; here: Cost; helper: Cost }> {
  const helper = new SpawnHelper();
  helper.warm();
  const deadline = Date.now() + 30_000;
  while (helper.pid === undefined) {
    if (Date.now() > deadline) throw new Error('spawn helper did not start within 30 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  const samples = { here: [] as Cost[], helper: [] as Cost[] };
  try {
    for (let i = 0; i < N; i++) {
      for (const side of ['here', 'helper'] as const) {
        const cpu = process.cpuUsage();
        const t = performance.now();
        let blockedMs: number;
        let d: NodeJS.CpuUsage;
        if (side === 'here') {
          spawnDetached('/bin/true', [], '/dev/null');
          blockedMs = performance.now() - t;
          d = process.cpuUsage(cpu);
        } else {
          const pid = helper.spawnDetached('/bin/true', [], '/dev/null');
          blockedMs = performance.now() - t;
          d = process.cpuUsage(cpu);
          await pid;
        }
        const wallMs = performance.now() - t;
        samples[side].push({ blockedMs, wallMs, cpuMs: (d.user + d.system) / 1000 });
        await new Promise((r) => setImmediate(r));
      }
    }
  } finally {
    helper.stop();
  }
  const med = (xs: Cost[]): Cost => ({
    blockedMs: median(xs.map((x) => x.blockedMs)),
    cpuMs: median(xs.map((x) => x.cpuMs)),
    wallMs: median(xs.map((x) => x.wallMs)),
  });
  return { rssMiB: process.memoryUsage().rss / 1024 ** 2, here: med(samples.here), helper: med(samples.helper) };
}
