/**
 * The `load` scenario's clock and its samplers: when the measured window opens (after the
 * warm-up and the first heap sample, once the server answers with the control-plane lease
 * held), the `vms` read model's lag from /health, and the server's RSS every second with
 * where it sits (smaps), so that RSS climbing between full GCs shows which memory climbs.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../../test/support/wait.js';
import { cpuSeconds, type LagSample } from './load-figures.js';
import { residentByKindOf, type ResidentByKind } from './smaps.js';

type Json = Record<string, unknown>;

/** GET /health as the admin, parsed (undefined when it did not answer). */
export type HealthCall = () => Promise<Json | undefined>;

function subscriptions(body: Json | undefined): Json | undefined {
  return ((body?.info ?? body?.error) as Json | undefined)?.subscriptions as Json | undefined;
}

export class LoadWindow {
  /** performance.now() when the window opened, and when the clients stop (Infinity until it opens). */
  start = Infinity;
  deadline = Infinity;
  /** The server's CPU seconds when the window opened. */
  cpu0 = 0;

  constructor(
    private readonly pid: number,
    private readonly health: HealthCall,
  ) {}

  /**
   * After `warmupS`, the first heap sample; the window opens once the server is itself again: a /health sent
   * after the sample is answered behind the requests its pause queued (one a client at most), with the
   * control-plane roles held (a sample can outlast the lease, and the roles restart after it).
   */
  async open(warmupS: number, measuredS: number, heapSample: () => Promise<void>): Promise<void> {
    await sleep(warmupS * 1000);
    await heapSample();
    await waitFor(
      async () => ((subscriptions(await this.health())?.lease as Json | undefined)?.owner ?? false) === true,
      { what: 'the server to answer with the control-plane lease held after the heap sample', timeoutMs: 60_000 },
    );
    this.start = performance.now();
    this.deadline = this.start + measuredS * 1000;
    this.cpu0 = cpuSeconds(this.pid);
  }
}

/**
 * The vms read model's lag: /health's head and lag every 250 ms; a head is "applied" at the first sample
 * whose applied position reaches it (so the resolution is the sampling interval).
 */
export function sampleLag(health: HealthCall): { samples: LagSample[]; stop: () => void } {
  const samples: LagSample[] = [];
  const timer = setInterval(() => {
    void health().then(
      (body) => {
        const sub = subscriptions(body);
        const vmsLag = (sub?.lag as Json | undefined)?.vms;
        if (typeof sub?.head !== 'string' || typeof vmsLag !== 'string') return;
        const head = BigInt(sub.head);
        samples.push({ t: performance.now(), head, applied: head - BigInt(vmsLag) });
      },
      () => undefined,
    );
  }, 250);
  return { samples, stop: () => clearInterval(timer) };
}

/**
 * RSS every second, and every 5 s where it sits (smaps: V8's heaps with the other anonymous memory, glibc's
 * main arena, its thread arenas; reading smaps costs this process ~5–20 ms of CPU and walks the server's
 * page tables, so not every second). RSS between forced full GCs counts the garbage V8 has not collected yet: when it
 * climbs and falls back with `otherAnon` while the arenas stay, the climb is V8's heap, not native memory.
 */
/** Every how many RSS samples (seconds) one smaps sample is taken (and always the first and the last). */
const SMAPS_EVERY = 5;

export class RssSeries {
  readonly rss: Array<[number, number]> = [];
  readonly kinds: Array<[number, ResidentByKind]> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    private readonly rssMiB: () => number,
    private readonly second: () => number,
  ) {}

  start(): void {
    this.take();
    this.timer = setInterval(() => this.take(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.take();
  }

  /** One line: each smaps sample's V8-and-other-anonymous / brk heap / thread arenas parts. */
  kindsLine(): string {
    return this.kinds.map(([s, k]) => `${s}s:${k.otherAnon}/${k.brkHeap}/${k.threadArenas}`).join(' ');
  }

  private take(): void {
    const s = this.second();
    this.rss.push([s, this.rssMiB()]);
    if (this.rss.length % SMAPS_EVERY !== 1 && this.timer !== undefined) return;
    try {
      this.kinds.push([s, residentByKindOf(this.pid)]);
    } catch {
      // The server exited between two samples: its RSS already says so.
    }
  }
}
