/**
 * CPU time of this process's main thread alone (Linux), ms: the thread that runs the HTTP edge,
 * the sagas, the projections and the result consumer. `process.cpuUsage()` counts every thread
 * (the SQLite writer, the bench's client worker), which hides what the event loop itself spends.
 * Undefined where /proc is not there.
 */
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux the bench runs on

export function mainThreadCpuMs(): number | undefined {
  return threadCpuMs(`/proc/self/task/${process.pid}/stat`);
}

/**
 * The calling thread's own CPU time, ms (Linux): from a worker thread, what that thread alone spent
 * (Node 20 has no per-thread `cpuUsage`). Undefined where /proc is not there.
 */
export function currentThreadCpuMs(): number | undefined {
  return threadCpuMs('/proc/thread-self/stat');
}

function threadCpuMs(statFile: string): number | undefined {
  try {
    const stat = readFileSync(statFile, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * The main thread's time on a core and its time runnable but waiting for one (Linux
 * `/proc/<pid>/task/<pid>/schedstat`, ns there), ms: on a shared machine, how much of a busy event
 * loop was the machine's rather than the code's. Undefined where /proc is not there.
 */
export function mainThreadSchedMs(): { onCpu: number; waiting: number } | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ');
    return { onCpu: Number(run) / 1e6, waiting: Number(wait) / 1e6 };
  } catch {
    return undefined;
  }
}

/**
 * Every thread of this process by its Linux id with its CPU time so far, ms (Linux; empty elsewhere).
 * Node names them all `node`, so a thread is known by its id: the main thread's is the pid, and the
 * difference of two readings shows where the rest went (the SQLite writer thread, V8's helper threads
 * for GC and compilation, libuv's file-system pool, the bench's client).
 */
export function threadsCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    const ms = threadCpuMs(`/proc/self/task/${tid}/stat`);
    if (ms !== undefined) out.set(Number(tid), ms);
  }
  return out;
}

/** CPU ms of each thread between two readings of threadsCpuMs (threads gone or new meanwhile: from 0 / to 0), largest first. */
export function threadsCpuDelta(before: Map<number, number>, after: Map<number, number>): [number, number][] {
  const ids = new Set([...before.keys(), ...after.keys()]);
  return [...ids]
    .map((id): [number, number] => [id, (after.get(id) ?? before.get(id) ?? 0) - (before.get(id) ?? 0)])
    .sort((a, b) => b[1] - a[1]);
}
