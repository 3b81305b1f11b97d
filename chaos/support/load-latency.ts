/**
 * The `load` scenario's latencies: of every request, and of the requests the server
 * admitted and answered (every answer but a 429: a refusal for want of room or over a
 * rate limit comes back at once and would make the figures look better than the work done).
 * Beside the wall clock, each admitted request's latency in the server's main-thread
 * CPU time that passed while it was in flight: on a machine shared with other work the
 * event loop waits for a core most of the time and wall-clock latencies measure the
 * machine; what its own loop did meanwhile (the requests and background work it turned
 * round first) is what a request waits for on a machine of its own, I/O waits aside.
 */
import { readFileSync } from 'node:fs';
import { summarize, type Summary } from '../../bench/stats.js';

/** CPU ms the process's main thread (its event loop) has run so far: /proc's schedstat, in ns. */
export function mainThreadCpuMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN; // the server is gone: the scenario reports that, not this figure
  }
}

export type RequestKind = 'read' | 'command';

export interface LoadLatencies {
  reads: Summary;
  commands: Summary;
  all: Summary;
  admittedReads: Summary;
  admittedCommands: Summary;
  /** The same in the server's main-thread CPU ms that passed while each was in flight. */
  admittedReadsCpu: Summary;
  admittedCommandsCpu: Summary;
  /** 429s: refused by the admission gate or a rate limit. */
  refused: number;
}

export class LatencyBook {
  private readonly every: Record<RequestKind, number[]> = { read: [], command: [] };
  private readonly admitted: Record<RequestKind, number[]> = { read: [], command: [] };
  private readonly admittedCpu: Record<RequestKind, number[]> = { read: [], command: [] };
  private readonly byRoute: Record<string, number[]> = {};
  private refused = 0;

  /** `cpuMs`: the server's main-thread CPU time that passed from the request's start to its answer. */
  record(kind: RequestKind, route: string, status: number, ms: number, cpuMs: number): void {
    this.every[kind].push(ms);
    if (status === 429) this.refused++;
    // No answer at all (a reset socket) is counted as an error by the scenario, not as a latency.
    else if (status !== 0) {
      this.admitted[kind].push(ms);
      if (Number.isFinite(cpuMs)) this.admittedCpu[kind].push(cpuMs);
    }
    if (kind === 'read' && status !== 429 && status !== 0) (this.byRoute[route] ??= []).push(ms);
  }

  figures(wallMs: number): LoadLatencies {
    return {
      reads: summarize(this.every.read, wallMs),
      commands: summarize(this.every.command, wallMs),
      all: summarize([...this.every.read, ...this.every.command], wallMs),
      admittedReads: summarize(this.admitted.read, wallMs),
      admittedCommands: summarize(this.admitted.command, wallMs),
      admittedReadsCpu: summarize(this.admittedCpu.read, wallMs),
      admittedCommandsCpu: summarize(this.admittedCpu.command, wallMs),
      refused: this.refused,
    };
  }

  /** The lines the scenario prints: admitted first (the targets are theirs), then every answer, then per route. */
  lines(wallMs: number): string[] {
    const l = this.figures(wallMs);
    const f = (x: number) => x.toFixed(1);
    const line = (name: string, s: Summary) => `${name} n=${s.n} p50=${f(s.p50)} ms p99=${f(s.p99)} ms`;
    const out = [
      `${line('reads    (admitted)', l.admittedReads)}; with the 429s: ${line('', l.reads).trim()}`,
      `${line('commands (admitted)', l.admittedCommands)}; with the 429s: ${line('', l.commands).trim()}`,
      `admitted, in the server's main-thread CPU ms while in flight: ${line('reads', l.admittedReadsCpu)}; ` +
        `${line('commands', l.admittedCommandsCpu)}`,
      `refused 429 (busy or rate limit): ${l.refused} of ${l.all.n} (${f((100 * l.refused) / Math.max(1, l.all.n))} %); ` +
        `each client waited its Retry-After before its next request`,
    ];
    for (const [route, ms] of Object.entries(this.byRoute).sort())
      out.push(`  GET ${route.padEnd(30)} ${line('', summarize(ms, wallMs)).trim()}`);
    return out;
  }
}
