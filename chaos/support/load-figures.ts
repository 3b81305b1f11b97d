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

/**
 * RSS by kind (/proc/<pid>/status, MiB): anonymous memory (heaps, malloc), file pages
 * mapped, shared memory (SQLite's WAL index is a mapped -shm file).
 */
export function rssKindsMiB(pid: number): Record<string, number> {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const out: Record<string, number> = {};
  for (const kind of ['RssAnon', 'RssFile', 'RssShmem']) {
    const kib = new RegExp(`^${kind}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    if (kib) out[kind] = Math.round(Number(kib) / 102.4) / 10;
  }
  return out;
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
export function lagMs(
  samples: readonly LagSample[],
  /** Which heads to count, by when each was seen and reached (all by default). */
  keep: (seenAt: number, reachedAt: number) => boolean = () => true,
): { lags: number[]; neverReached: number } {
  const lags: number[] = [];
  let neverReached = 0;
  let j = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = samples[i]!;
    // Applied positions only grow, so the first sample reaching head i is never before the one for head i-1.
    if (j < i) j = i;
    while (j < samples.length && samples[j]!.applied < a.head) j++;
    if (j >= samples.length) neverReached++;
    else if (keep(a.t, samples[j]!.t)) lags.push(samples[j]!.t - a.t);
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

/**
 * Samples taken right after a forced full GC (`[second, MiB]`, the first after
 * warm-up): flat when no later one exceeds the first by more than max(`slackMiB`, 10 %).
 */
export function liveHeapVerdict(
  samples: ReadonlyArray<readonly [number, number]>,
  what = 'live heap after a forced full GC (inspector)',
  slackMiB = 10,
): {
  flat: boolean | undefined;
  line: string;
} {
  const f = (x: number) => x.toFixed(1);
  const all = samples.map(([s, m]) => `${s}s:${f(m)}`).join(' ');
  if (samples.length < 2) return { flat: undefined, line: `${what}: ${samples.length} samples, no verdict (${all})` };
  const first = samples[0]![1];
  const most = Math.max(...samples.slice(1).map(([, m]) => m));
  const flat = most - first <= Math.max(slackMiB, first * 0.1);
  return {
    flat,
    line: `${what}, MiB: ${all} → ${flat ? 'flat' : 'GROWING'}`,
  };
}

/** One cache's entries and limit (undefined: bounded by the data only), as the server reported them. */
export interface CacheCount {
  name: string;
  entries: number;
  limit: number | undefined;
}

/**
 * Heap a cache entry may hold at most (its key, a folded aggregate or read-model
 * record, the map slot): growth beyond this per entry the caches gained is not
 * explained by them.
 */
export const MAX_KIB_PER_CACHE_ENTRY = 4;

/**
 * The live-heap verdict knowing the server's caches at the first and the last heap
 * sample: growth past the slack while the caches gained entries is "growing while
 * caches fill" — not a leak as long as it stays within MAX_KIB_PER_CACHE_ENTRY per
 * entry gained; growth while no cache gained an entry (all full, or idle) is a leak,
 * and so is growth the new entries cannot explain.
 */
export function cacheAwareHeapVerdict(
  heap: ReturnType<typeof liveHeapVerdict>,
  samples: ReadonlyArray<readonly [number, number]>,
  firstCaches: readonly CacheCount[] | undefined,
  lastCaches: readonly CacheCount[] | undefined,
): { leak: boolean; verdict: string; line: string } {
  if (heap.flat !== false || !firstCaches || !lastCaches) {
    const verdict = heap.flat === undefined ? 'undecided' : heap.flat ? 'flat' : 'GROWING';
    return { leak: heap.flat === false, verdict, line: heap.line };
  }
  const before = new Map(firstCaches.map((c) => [c.name, c.entries]));
  const gained = lastCaches.reduce((n, c) => n + Math.max(0, c.entries - (before.get(c.name) ?? 0)), 0);
  const bounded = lastCaches.filter((c) => c.limit !== undefined);
  const held = bounded.reduce((n, c) => n + c.entries, 0);
  const room = bounded.reduce((n, c) => n + c.limit!, 0);
  const growthMiB = Math.max(...samples.slice(1).map(([, m]) => m)) - samples[0]![1];
  const perEntryKiB = gained > 0 ? (growthMiB * 1024) / gained : Infinity;
  const explained = gained > 0 && perEntryKiB <= MAX_KIB_PER_CACHE_ENTRY;
  const caches =
    `caches ${held} of ${room} entries, +${gained} since the first sample` +
    (gained > 0
      ? `: ${perEntryKiB.toFixed(2)} KiB of growth per entry gained, ≤ ${MAX_KIB_PER_CACHE_ENTRY} explained`
      : '');
  const verdict =
    gained === 0
      ? 'GROWING with caches full or idle (a leak)'
      : explained
        ? 'growing while caches fill (not a leak)'
        : 'GROWING beyond what the caches filling explains (a leak)';
  return {
    leak: !explained,
    verdict: explained ? 'growing while caches fill' : 'GROWING',
    line: `${heap.line.replace(/ → GROWING$/, '')} → ${verdict}; ${caches}`,
  };
}

/** One line per cache: `name entries/limit` (or `entries, no limit`). */
export function cacheLine(caches: readonly CacheCount[]): string {
  return caches.map((c) => `${c.name} ${c.entries}${c.limit === undefined ? ' (no limit)' : `/${c.limit}`}`).join(', ');
}
