import type { GrowthFigure } from './history.js';
import type { ReplayFigures } from './replay.js';
import type { Summary } from './stats.js';

export interface TargetInputs {
  store: string;
  concurrency: number;
  accept: Summary;
  toRunning: Summary;
  bull: Summary;
  append: Summary;
  histories: GrowthFigure[];
  replay: ReplayFigures;
}

interface Line {
  figure: string;
  value: string;
  baseline: string;
  ratio: string;
  target: string;
  met: boolean;
}

const x = (r: number) => `${r.toFixed(r < 0.1 ? 3 : 2)}×`;

/**
 * Issue #14's targets, each as a ratio against a baseline measured in this
 * same run (the machine's speed and noise cancel out), with the target beside it.
 */
export function printTargets(t: TargetInputs): void {
  const lines: Line[] = [];
  const perSec = t.toRunning.perSecond / t.bull.perSecond;
  lines.push({
    figure: 'creates/s end to end',
    value: `${t.toRunning.perSecond.toFixed(1)}/s`,
    baseline: `raw BullMQ ${t.bull.perSecond.toFixed(0)}/s`,
    ratio: x(perSec),
    target: '≥ 0.15×',
    met: perSec >= 0.15,
  });
  lines.push({
    figure: `POST → 202 p50 (concurrency ${t.concurrency})`,
    value: `${t.accept.p50.toFixed(1)} ms`,
    baseline: `raw append p50 ${t.append.p50.toFixed(1)} ms`,
    ratio: x(t.accept.p50 / t.append.p50),
    target: '≤ 20 ms',
    met: t.accept.p50 <= 20,
  });
  for (const h of t.histories)
    lines.push({
      figure: h.what,
      value: `last-100 p50 ${h.lastP50.toFixed(1)} ms`,
      baseline: `first-100 p50 ${h.firstP50.toFixed(1)} ms`,
      ratio: x(h.ratio),
      target: '≤ 1.2×',
      met: h.ratio <= 1.2,
    });
  const floor = t.store === 'postgres' ? 50_000 : 100_000;
  for (const b of t.replay.rebuilds)
    lines.push({
      figure: `full rebuild ${b.projection} (${b.events} events)`,
      value: `${b.perSecond.toFixed(0)} events/s`,
      baseline: `raw read ${t.replay.rawRead.perSecond.toFixed(0)} events/s`,
      ratio: x(b.perSecond / t.replay.rawRead.perSecond),
      target: `≥ ${floor / 1000}k events/s`,
      met: b.perSecond >= floor,
    });
  const check = t.replay.check;
  lines.push({
    figure: `replay-check, every read model (${check.events} events)`,
    value: `${check.logPerSecond.toFixed(0)} events/s`,
    baseline: `raw read ${t.replay.rawRead.perSecond.toFixed(0)} events/s`,
    ratio: x(check.logPerSecond / t.replay.rawRead.perSecond),
    target: `≥ ${floor / 1000}k events/s`,
    met: check.logPerSecond >= floor,
  });
  console.log('\nsection: issue #14 targets (ratios against baselines of this same run)');
  const w = (k: keyof Line) => Math.max(...lines.map((l) => String(l[k]).length));
  for (const l of lines)
    console.log(
      `  ${l.figure.padEnd(w('figure'))}  ${l.value.padStart(w('value'))}  vs ${l.baseline.padEnd(w('baseline'))}  = ${l.ratio.padStart(w('ratio'))}  target ${l.target.padEnd(w('target'))}  ${l.met ? 'met' : 'NOT met'}`,
    );
}
