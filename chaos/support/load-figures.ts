/**
 * The figures the `load` scenario prints beside its counts: the server's CPU per
 * request (robust on a shared machine where wall-clock latencies are not), the
 * projection lag from /health samples, and whether RSS stayed flat after warm-up.
 */
import { readFileSync } from 'node:fs';
import { percentile } from '../../bench/stats.js';

/**
 * User + system CPU seconds a process has used so far (/proc/<pid>/stat fields 14
 * and 15). Linux reports them in USER_HZ ticks, which is 100 on every architecture
 * Node runs on (the kernel's HZ may differ; the user-visible unit does not).
 */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields from the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One /health sample: when it was taken, the log's head, and what the `vms` read model had applied. */
export interface LagSample {
  t: number;
  head: bigint;
  applied: bigint;
}

/**
 * The read model's lag in ms: for each sample's head, the time until the first
 * later sample whose applied position reached it (the resolution is the sampling
 * interval). Heads never reached before the run ended are returned apart: they are
 * lag at least as long as the time left, not none.
 */
export function lagMs(samples: readonly LagSample[]): { lags: number[]; neverReached: number } {
  const lags: number[] = [];
  let neverReached = 0;
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = samples[i]!;
    // Applied positions only grow, so the first sample reaching head i is never before the one for head i-1.
    if (j < i) j = i;
    while (j < samples.length && samples[j]!.applied < a.head) j++;
    if (j < samples.length) lags.push(samples[j]!.t - a.t);
    else neverReached++;
  }
  return { lags, neverReached };
}

export interface RssVerdict {
  flat: boolean;
  /** Median RSS (MiB) of the first and the last few samples after warm-up. */
  afterWarmup: number;
  atEnd: number;
  /** Least-squares slope over the samples after warm-up, MiB per minute. */
  slopePerMin: number;
  line: string;
}

const EDGE = 5;
/** Growth after warm-up still called flat: V8 sizes its heap by the load, and RSS moves with it. */
const FLAT_MIB = 25;
const FLAT_SHARE = 0.1;

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

/**
 * RSS samples `[second, MiB]` after the first `warmupS` seconds: flat when the
 * median of the last few is within max(25 MiB, 10 %) of the median of the first few.
 */
export function rssVerdict(samples: ReadonlyArray<readonly [number, number]>, warmupS: number): RssVerdict {
  const after = samples.filter(([s]) => s >= warmupS);
  const used = after.length >= 2 * EDGE ? after : samples;
  const first = median(used.slice(0, EDGE).map(([, m]) => m));
  const last = median(used.slice(-EDGE).map(([, m]) => m));
  const n = used.length;
  const mx = used.reduce((a, [s]) => a + s, 0) / n;
  const my = used.reduce((a, [, m]) => a + m, 0) / n;
  const sxy = used.reduce((a, [s, m]) => a + (s - mx) * (m - my), 0);
  const sxx = used.reduce((a, [s]) => a + (s - mx) ** 2, 0);
  const slopePerMin = sxx > 0 ? (sxy / sxx) * 60 : 0;
  const flat = last - first <= Math.max(FLAT_MIB, first * FLAT_SHARE);
  const f = (x: number) => x.toFixed(1);
  const line =
    `RSS after warm-up (t ≥ ${warmupS} s, ${used.length} samples): ${f(first)} → ${f(last)} MiB ` +
    `(${last >= first ? '+' : ''}${f(last - first)} MiB, slope ${f(slopePerMin)} MiB/min) → ${flat ? 'flat' : 'GROWING'}`;
  return { flat, afterWarmup: first, atEnd: last, slopePerMin, line };
}

/** One full (mark-compact) GC of the server's main isolate, from `--trace-gc`: the heap in MiB after it. */
export interface MajorGc {
  atMs: number;
  afterMiB: number;
}

const GC_LINE =
  /^\[\d+:(0x[0-9a-f]+)\]\s+(\d+) ms: Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \([\d.]+\) MB/gm;

/**
 * The mark-compacts `--trace-gc` printed in `text`, of the isolate that printed
 * the most GC lines (the main thread; the SQLite writer thread has its own, small
 * heap). What a full GC leaves is what the process really holds: a leak raises it,
 * while RSS also moves with the garbage V8 lets accumulate between full GCs.
 */
export function majorGcs(text: string): MajorGc[] {
  const byIsolate = new Map<string, MajorGc[]>();
  for (const m of text.matchAll(GC_LINE)) {
    const list = byIsolate.get(m[1]!) ?? [];
    list.push({ atMs: Number(m[2]), afterMiB: Number(m[3]) });
    byIsolate.set(m[1]!, list);
  }
  return [...byIsolate.values()].sort((a, b) => b.length - a.length)[0] ?? [];
}

/**
 * Live heap after warm-up: flat when the least a full GC left in the last half of
 * the run is within max(10 MiB, 10 %) of the least it left in the first half (the
 * least, because what a full GC leaves also holds whatever requests were in flight).
 */
export function liveHeapVerdict(gcs: readonly MajorGc[]): { flat: boolean | undefined; line: string } {
  const f = (x: number) => x.toFixed(1);
  if (gcs.length < 2)
    return { flat: undefined, line: `live heap: ${gcs.length} full GCs after warm-up, too few for a verdict` };
  const half = Math.floor(gcs.length / 2);
  const early = Math.min(...gcs.slice(0, half).map((g) => g.afterMiB));
  const late = Math.min(...gcs.slice(half).map((g) => g.afterMiB));
  const flat = late - early <= Math.max(10, early * 0.1);
  return {
    flat,
    line:
      `live heap after full GCs (main thread, ${gcs.length} after warm-up): least ${f(early)} MiB in the first half, ` +
      `${f(late)} MiB in the second (all: ${gcs.map((g) => f(g.afterMiB)).join(' ')}) → ${flat ? 'flat' : 'GROWING'}`,
  };
}
