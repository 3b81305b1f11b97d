import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { PHASE_CHANNEL, type PhaseMark } from '../src/drivers/kit/phase-trace.js';

/**
 * Where the time of one timed operation goes: every layer of the control plane publishes
 * phase marks for the VM on one diagnostics channel (saga saw an event, job enqueued, worker
 * picked it, qemu-img, spawn, QMP answers, result consumed and appended…); the bench adds the
 * client's own marks (POST sent, 202, operation seen done). A breakdown is the median, over the
 * runs, of the time from each mark to the next.
 */
export class PhaseRecorder {
  private readonly marks = new Map<string, PhaseMark[]>();
  private readonly onMark = (message: unknown): void => {
    const m = message as PhaseMark;
    const list = this.marks.get(m.vmId) ?? [];
    list.push(m);
    this.marks.set(m.vmId, list);
  };

  start(): void {
    subscribe(PHASE_CHANNEL, this.onMark);
  }

  stop(): void {
    unsubscribe(PHASE_CHANNEL, this.onMark);
  }

  mark(vmId: string, phase: string, at = performance.now()): void {
    this.onMark({ vmId, phase, at } satisfies PhaseMark);
  }

  /** The VM's marks from `from` to `to` (both included), in time order. */
  between(vmId: string, from: number, to: number): PhaseMark[] {
    return (this.marks.get(vmId) ?? []).filter((m) => m.at >= from && m.at <= to).sort((a, b) => a.at - b.at);
  }

  forget(vmId: string): void {
    this.marks.delete(vmId);
  }
}

interface Gap {
  label: string;
  ms: number[];
}

/** Gaps between consecutive marks, lined up by label (and occurrence) across runs. */
export class Breakdown {
  private readonly gaps = new Map<string, Gap>();
  private readonly totals: number[] = [];
  /** Each mark's first time in a run, from the run's first mark: the critical path reads top to bottom. */
  private readonly offsets = new Map<string, number[]>();

  constructor(readonly title: string) {}

  add(marks: PhaseMark[]): void {
    if (marks.length < 2) return;
    const t0 = marks[0]!.at;
    const firstSeen = new Set<string>();
    for (const m of marks) {
      if (firstSeen.has(m.phase)) continue;
      firstSeen.add(m.phase);
      const list = this.offsets.get(m.phase) ?? [];
      list.push(m.at - t0);
      this.offsets.set(m.phase, list);
    }
    const seen = new Map<string, number>();
    for (let i = 1; i < marks.length; i++) {
      const label = `${marks[i - 1]!.phase} → ${marks[i]!.phase}`;
      const n = (seen.get(label) ?? 0) + 1;
      seen.set(label, n);
      const key = `${label}#${n}`;
      const gap = this.gaps.get(key) ?? { label: n > 1 ? `${label} (${n})` : label, ms: [] };
      gap.ms.push(marks[i]!.at - marks[i - 1]!.at);
      this.gaps.set(key, gap);
    }
    this.totals.push(marks[marks.length - 1]!.at - marks[0]!.at);
  }

  /** Rows in first-seen order; a gap seen in fewer runs than the total says in how many. */
  print(): void {
    const runs = this.totals.length;
    if (!runs) return;
    const total = median(this.totals);
    console.log(`\n  ${this.title}: median per phase over ${runs} run(s), total p50 ${total.toFixed(1)} ms`);
    const width = Math.min(96, Math.max(...[...this.gaps.values()].map((g) => g.label.length)));
    for (const g of this.gaps.values()) {
      const m = median(g.ms);
      const share = total > 0 ? (100 * m) / total : 0;
      const seenIn = g.ms.length < runs ? `  (in ${g.ms.length}/${runs} runs)` : '';
      console.log(
        `    ${g.label.padEnd(width)}  ${m.toFixed(1).padStart(7)} ms  ${share.toFixed(0).padStart(3)} %${seenIn}`,
      );
    }
    this.printOffsets(runs);
  }

  /**
   * The gaps above interleave (results, sagas and drivers race), so the same run is also shown as
   * each mark's median time since the operation began, in that order: what the client waits for
   * is the chain of marks whose offsets climb, and the step between two rows is what it cost.
   */
  private printOffsets(runs: number): void {
    const rows = [...this.offsets].map(([phase, at]) => ({ phase, at: median(at), n: at.length }));
    rows.sort((a, b) => a.at - b.at);
    const width = Math.min(96, Math.max(...rows.map((r) => r.phase.length)));
    console.log(`    — each mark's median time since the first (first occurrence per run):`);
    let prev = 0;
    for (const r of rows) {
      const seenIn = r.n < runs ? `  (in ${r.n}/${runs} runs)` : '';
      console.log(
        `      ${r.phase.padEnd(width)}  ${r.at.toFixed(1).padStart(7)} ms  +${(r.at - prev).toFixed(1).padStart(6)}${seenIn}`,
      );
      prev = r.at;
    }
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** CPU of this process since `from`, in ms. */
export function cpuMs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}
