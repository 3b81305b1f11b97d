import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DriverError } from '../hypervisor-driver.port.js';
import type { Controller, Hierarchy } from './cgroup-hierarchies.js';

/** Where one container's limits and freezer live; stored in run.json so a restarted worker uses the same dirs. */
export interface CgroupPlan {
  /** Every dir made for the container (one per hierarchy used), deepest first when removed. */
  dirs: string[];
  memory: { version: 1 | 2; dir: string };
  cpu: { version: 1 | 2; dir: string };
  pids: { version: 1 | 2; dir: string };
  freezer: { version: 1 | 2; dir: string };
}

export interface Limits {
  memoryBytes: number;
  /** CPU time per period, in whole CPUs (the VM's vcpus). */
  cpus: number;
  pidsMax: number;
}

const CPU_PERIOD_US = 100_000;
const FREEZE_WAIT_MS = 5_000;

/**
 * Picks a hierarchy per controller: a v1 hierarchy that has it first (on a hybrid host the v2
 * tree has no controllers), else v2. The freezer prefers v2 `cgroup.freeze`, which needs no
 * controller, and falls back to the v1 freezer. A missing controller is an error: a container
 * without the memory limit it was asked for must not start as if it had one.
 */
export function planCgroups(
  hierarchies: Hierarchy[],
  hostKey: string,
  vmId: string,
  freezerPreference: 'auto' | 'v1' | 'v2' = 'auto',
): CgroupPlan {
  const dirOf = (h: Hierarchy): string => join(h.base, hostKey, vmId);
  const v2 = hierarchies.find((h) => h.version === 2);
  const pick = (c: Controller): { version: 1 | 2; dir: string } => {
    const v1 = hierarchies.find((h) => h.version === 1 && h.controllers.includes(c));
    if (v1) return { version: 1, dir: dirOf(v1) };
    if (v2 && v2.controllers.includes(c)) return { version: 2, dir: dirOf(v2) };
    throw new DriverError(
      'failed',
      `no ${c} cgroup controller on this host (hierarchies: ${hierarchies.map(describe).join('; ') || 'none'})`,
    );
  };
  const limits = { memory: pick('memory'), cpu: pick('cpu'), pids: pick('pids') };
  const v1Freezer = hierarchies.find((h) => h.version === 1 && h.controllers.includes('freezer'));
  let freezer: { version: 1 | 2; dir: string };
  if (freezerPreference === 'v1' && !v1Freezer)
    throw new DriverError('failed', 'freezer=v1 asked, but no v1 freezer is mounted');
  if (freezerPreference === 'v2' && !v2) throw new DriverError('failed', 'freezer=v2 asked, but no cgroup2 is mounted');
  if (v2 && freezerPreference !== 'v1') freezer = { version: 2, dir: dirOf(v2) };
  else if (v1Freezer) freezer = { version: 1, dir: dirOf(v1Freezer) };
  else throw new DriverError('failed', 'no cgroup freezer on this host (neither cgroup2 nor the v1 freezer)');
  const plan = { ...limits, freezer };
  const dirs = [...new Set([plan.memory.dir, plan.cpu.dir, plan.pids.dir, plan.freezer.dir])];
  return { ...plan, dirs };
}

function describe(h: Hierarchy): string {
  return `v${h.version} ${h.mount} [${h.controllers.join(',')}]`;
}

/**
 * Makes the dirs and writes the limits. A v2 freezer dir made on a kernel without `cgroup.freeze`
 * is switched to the v1 freezer when one exists (the plan is returned as actually used).
 */
export function createCgroups(plan: CgroupPlan, limits: Limits, hierarchies: Hierarchy[]): CgroupPlan {
  for (const dir of plan.dirs) {
    enableV2Controllers(plan, dir, hierarchies);
    mkdirSync(dir, { recursive: true });
  }
  let used = plan;
  if (plan.freezer.version === 2 && !existsSync(join(plan.freezer.dir, 'cgroup.freeze'))) {
    const v1 = hierarchies.find((h) => h.version === 1 && h.controllers.includes('freezer'));
    if (!v1) throw new DriverError('failed', `${plan.freezer.dir} has no cgroup.freeze and there is no v1 freezer`);
    const dir = join(v1.base, ...plan.freezer.dir.split('/').slice(-2));
    mkdirSync(dir, { recursive: true });
    used = { ...plan, freezer: { version: 1, dir }, dirs: [...new Set([...plan.dirs, dir])] };
  }
  writeLimits(used, limits);
  write(used.pids.dir, 'pids.max', String(limits.pidsMax));
  // A dir left frozen by a container that died while paused would freeze the next one at birth.
  thawNow(used);
  return used;
}

/**
 * Writes the memory and CPU limits into existing dirs: at a launch, and live on a running container
 * (a resize). Memory first: a limit below what the container uses is refused by the kernel (EBUSY)
 * and then nothing has changed.
 */
export function writeLimits(plan: CgroupPlan, limits: Pick<Limits, 'memoryBytes' | 'cpus'>): void {
  const { memory, cpu } = plan;
  // Swap counted in too (where the kernel accounts it), or a container could exceed its memory by swapping.
  if (memory.version === 1) {
    const bytes = String(limits.memoryBytes);
    if (!existsSync(join(memory.dir, 'memory.memsw.limit_in_bytes'))) {
      write(memory.dir, 'memory.limit_in_bytes', bytes);
    } else {
      // The kernel keeps limit ≤ memsw at every step, so the order depends on the previous values.
      try {
        write(memory.dir, 'memory.limit_in_bytes', bytes);
        write(memory.dir, 'memory.memsw.limit_in_bytes', bytes);
      } catch {
        write(memory.dir, 'memory.memsw.limit_in_bytes', bytes);
        write(memory.dir, 'memory.limit_in_bytes', bytes);
      }
    }
  } else {
    write(memory.dir, 'memory.max', String(limits.memoryBytes));
    if (existsSync(join(memory.dir, 'memory.swap.max'))) write(memory.dir, 'memory.swap.max', '0');
  }
  const quota = Math.round(limits.cpus * CPU_PERIOD_US);
  if (cpu.version === 1) {
    write(cpu.dir, 'cpu.cfs_period_us', String(CPU_PERIOD_US));
    write(cpu.dir, 'cpu.cfs_quota_us', String(quota));
  } else {
    write(cpu.dir, 'cpu.max', `${quota} ${CPU_PERIOD_US}`);
  }
}

/** v2 gives a child a controller only when every ancestor lists it in cgroup.subtree_control. */
function enableV2Controllers(plan: CgroupPlan, dir: string, hierarchies: Hierarchy[]): void {
  const v2 = hierarchies.find((h) => h.version === 2 && dir.startsWith(`${h.mount}/`));
  if (!v2) return;
  const wanted = (['memory', 'cpu', 'pids'] as const).filter((c) => plan[c].version === 2 && plan[c].dir === dir);
  if (wanted.length === 0) return;
  const chain: string[] = [];
  for (let d = dirname(dir); d.startsWith(v2.mount); d = dirname(d)) {
    chain.unshift(d);
    if (d === v2.mount) break;
  }
  for (const d of chain) {
    mkdirSync(d, { recursive: true });
    const enabled = readFileSync(join(d, 'cgroup.subtree_control'), 'utf8').split(/\s+/);
    for (const c of wanted) if (!enabled.includes(c)) write(d, 'cgroup.subtree_control', `+${c}`);
  }
}

/** The files the container's first process writes `0` into to join every cgroup before it execs. */
export function procsFiles(plan: CgroupPlan): string[] {
  return plan.dirs.map((d) => join(d, 'cgroup.procs'));
}

export async function freeze(plan: CgroupPlan): Promise<void> {
  const { version, dir } = plan.freezer;
  if (version === 2) write(dir, 'cgroup.freeze', '1');
  else write(dir, 'freezer.state', 'FROZEN');
  await waitFor(() => freezeState(plan) === 'frozen', `freeze ${dir}`);
}

/**
 * Thaws the container's freezer when it is frozen or freezing; thawed already is done. So is a
 * cgroup removed (before or meanwhile: the container stopped by another worker, a redelivered job
 * racing this one): it holds no task left to thaw.
 */
export async function thaw(plan: CgroupPlan): Promise<void> {
  const before = freezeState(plan);
  if (before === 'thawed' || before === 'absent') return;
  try {
    thawNow(plan);
  } catch (err) {
    if (freezeState(plan) !== 'absent') throw err;
    return;
  }
  await waitFor(
    () => {
      const state = freezeState(plan);
      return state === 'thawed' || state === 'absent';
    },
    `thaw ${dir(plan)}`,
  );
}

function dir(plan: CgroupPlan): string {
  return plan.freezer.dir;
}

function thawNow(plan: CgroupPlan): void {
  const { version, dir: d } = plan.freezer;
  if (version === 2) write(d, 'cgroup.freeze', '0');
  else write(d, 'freezer.state', 'THAWED');
}

/** 'freezing' while the kernel is still stopping tasks (v1 FREEZING, v2 asked but not yet `frozen 1`). */
export function freezeState(plan: CgroupPlan): 'frozen' | 'freezing' | 'thawed' | 'absent' {
  const { version, dir: d } = plan.freezer;
  try {
    if (version === 1) {
      const s = readFileSync(join(d, 'freezer.state'), 'utf8').trim();
      return s === 'FROZEN' ? 'frozen' : s === 'FREEZING' ? 'freezing' : 'thawed';
    }
    const asked = readFileSync(join(d, 'cgroup.freeze'), 'utf8').trim() === '1';
    const frozen = /^frozen 1$/m.test(readFileSync(join(d, 'cgroup.events'), 'utf8'));
    return frozen ? 'frozen' : asked ? 'freezing' : 'thawed';
  } catch {
    return 'absent';
  }
}

/** Host pids of every process in the container's cgroups. */
export function cgroupPids(plan: CgroupPlan): number[] {
  const pids = new Set<number>();
  for (const file of procsFiles(plan)) {
    try {
      for (const l of readFileSync(file, 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch {
      // the dir is gone: no processes there
    }
  }
  return [...pids];
}

/** Removes the container's dirs; a dir still busy (a zombie not yet reaped) is retried, then left for the next start. */
export async function removeCgroups(plan: CgroupPlan, waitMs = 2_000): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  let left = plan.dirs.filter((d) => existsSync(d));
  while (left.length > 0) {
    left = left.filter((d) => {
      try {
        rmdirSync(d);
        return false;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code !== 'ENOENT';
      }
    });
    if (left.length === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return left;
}

function write(d: string, file: string, value: string): void {
  try {
    writeFileSync(join(d, file), value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    throw new DriverError('failed', `cannot write ${value} to ${join(d, file)}: ${code} ${(err as Error).message}`, {
      cause: err,
    });
  }
}

async function waitFor(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + FREEZE_WAIT_MS;
  while (!done()) {
    if (Date.now() >= deadline) throw new DriverError('timeout', `${what}: not done within ${FREEZE_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
