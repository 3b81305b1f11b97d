/**
 * The `load` scenario's memory samples, each right after a forced full GC of the
 * server (through its inspector): the main isolate's live heap, RSS, process.memoryUsage(),
 * RSS by kind of mapping and the worker threads' heaps, and at the first and the last
 * sample the server's caches. Together they say whether RSS that grows is a leak (live
 * heaps, or caches past their bounds) or native memory outside the heaps.
 *
 * The cache census is a heap walk (Runtime.queryObjects): V8 builds a set of every
 * reachable object in malloc'd memory, about 8–17 MiB on an idle server, more as the heap
 * grows, that glibc's main arena keeps after it is freed (RSS stays up). A census between
 * two RSS samples is therefore growth of the measurement's own: the census runs before
 * the first RSS sample and after the last one only, so that every RSS sample holds the
 * same one census.
 */
import { cacheCensus } from './cache-census.js';
import { liveHeapMiB, memoryUsageMiB, withInspector } from './inspector-heap.js';
import { rssKindsMiB, type CacheCount } from './load-figures.js';
import { residentByKindOf } from './smaps.js';
import { workerHeapsMiB } from './worker-heap.js';

/** When a sample counts the caches: before its GC and RSS (the first), after them (the last), or not at all. */
export type CensusAt = 'before' | 'after' | 'none';

export class MemorySampler {
  readonly liveHeap: Array<[number, number]> = [];
  /** RSS right after each forced full GC: what the process holds, without the garbage between full GCs. */
  readonly rssAfterGc: Array<[number, number]> = [];
  /** The server's caches at the first and the last sample: growth while they fill is not a leak, growth with them full is. */
  readonly caches: Array<[number, CacheCount[]]> = [];
  /** Where RSS beyond the live heap sits (V8's reserve, malloc arenas, worker isolates), MiB. */
  readonly memory: Array<[number, Record<string, number>]> = [];
  readonly problems: string[] = [];
  /** Samples run one after the other: a census must never overlap another sample's RSS reading. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly inspector: string | undefined,
    private readonly pid: number,
    private readonly rssMiB: () => number,
  ) {}

  sample(s: number, census: CensusAt): Promise<void> {
    this.queue = this.queue.then(() => this.take(s, census));
    return this.queue;
  }

  private async take(s: number, census: CensusAt): Promise<void> {
    const url = this.inspector;
    if (!url) return;
    try {
      if (census === 'before') this.caches.push([s, await withInspector(url, cacheCensus)]);
      // The workers' full GCs first, then the main thread's: the sampling leaves none of its garbage in RSS.
      const workers = await workerHeapsMiB(url);
      this.liveHeap.push([s, await liveHeapMiB(url)]);
      this.rssAfterGc.push([s, this.rssMiB()]);
      const round = (x: number) => Math.round(x * 10) / 10;
      this.memory.push([
        s,
        {
          ...(await withInspector(url, memoryUsageMiB)),
          ...rssKindsMiB(this.pid),
          ...residentByKindOf(this.pid),
          ...Object.fromEntries(
            workers.map((w) => [`${w.title.replace(/^\[worker \d+\] /, '')} heap`, round(w.totalMiB)]),
          ),
        },
      ]);
      if (census === 'after') this.caches.push([s, await withInspector(url, cacheCensus)]);
    } catch (err) {
      this.problems.push(`live heap at ${s} s: ${String(err)}`);
    }
  }

  /**
   * The caches at the first and the last live-heap sample, when both were counted (else the
   * heap verdict cannot tell caches filling from a leak and judges the heap alone).
   */
  cachesAtEnds(): { first: CacheCount[] | undefined; last: CacheCount[] | undefined } {
    const first = this.caches[0];
    const last = this.caches.at(-1);
    const ok =
      this.caches.length >= 2 && first?.[0] === this.liveHeap[0]?.[0] && last?.[0] === this.liveHeap.at(-1)?.[0];
    return ok ? { first: first![1], last: last![1] } : { first: undefined, last: undefined };
  }
}
