/**
 * What the main isolate's garbage collector did during a bench section, and (on request) how many
 * bytes the section allocated. Scavenges scale with the bytes allocated (the young generation fills
 * and is swept, its survivors copied by the main thread and V8's helper threads), so "scavenges per
 * create" and "KiB allocated per create" are the figures an allocation cut moves; the CPU they cost
 * lands on the main thread and on the GC helper threads, which wall-clock figures hide.
 */
import { Session } from 'node:inspector';
import { readFileSync, writeFileSync } from 'node:fs';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

export interface GcCounts {
  scavenges: number;
  /** Full (mark-compact) collections, incremental marking's finalisation included. */
  markCompacts: number;
  /** Pause time on the main thread, ms, all kinds summed. */
  pauseMs: number;
}

/** Counts this isolate's collections from now until `stop()` (worker threads have their own isolate, not counted). */
export function watchGc(): { stop: () => Promise<GcCounts> } {
  const counts: GcCounts = { scavenges: 0, markCompacts: 0, pauseMs: 0 };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      counts.pauseMs += e.duration;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.scavenges++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.markCompacts++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return {
    // The observer is called asynchronously after each GC: one turn lets the last entries in.
    stop: async () => {
      await new Promise((r) => setImmediate(r));
      obs.disconnect();
      return counts;
    },
  };
}

interface SamplingNode {
  selfSize: number;
  children: SamplingNode[];
}

/**
 * Samples this isolate's allocations, the collected ones included (V8's sampling heap profiler with
 * `includeObjectsCollectedBy{Minor,Major}GC`): the sum of the samples estimates the bytes allocated.
 * It costs CPU itself, so a run measured with it is not one to read CPU figures from.
 * `profileFile`: where to write the profile (a `.heapprofile` DevTools and `--heap-prof` readers open).
 */
export async function sampleAllocations(profileFile?: string): Promise<{ stop: () => Promise<number> }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
    );
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', {
    samplingInterval: 16384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return {
    stop: async () => {
      const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: SamplingNode } };
      session.disconnect();
      if (profileFile) writeFileSync(profileFile, JSON.stringify(profile));
      let bytes = 0;
      const stack = [profile.head];
      for (let n = stack.pop(); n; n = stack.pop()) {
        bytes += n.selfSize;
        stack.push(...n.children);
      }
      return bytes;
    },
  };
}

/**
 * Write-type system calls this process made so far (every thread: `syscw` of /proc/self/io, Linux;
 * undefined elsewhere): socket writes to Redis and HTTP answers, file writes. Each costs a kernel
 * entry, and on the loopback a socket write also runs the receiver's TCP path.
 */
export function writeSyscalls(): number | undefined {
  try {
    const m = /^syscw: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
