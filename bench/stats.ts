export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface Summary {
  n: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

export function summarize(latenciesMs: number[], wallMs: number): Summary {
  const s = [...latenciesMs].sort((a, b) => a - b);
  return {
    n: s.length,
    perSecond: s.length / (wallMs / 1000),
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
  };
}

export function row(name: string, s: Summary, unit = 'ms'): string {
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(x < 10 ? 2 : 1) : '-');
  return `${name.padEnd(44)} ${String(s.n).padStart(6)} ${f(s.perSecond).padStart(10)}/s  p50 ${f(s.p50).padStart(8)} ${unit}  p95 ${f(s.p95).padStart(8)} ${unit}  p99 ${f(s.p99).padStart(8)} ${unit}`;
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}
