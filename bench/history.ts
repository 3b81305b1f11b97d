import {
  formatCost,
  formatKeyGrowth,
  formatSizes,
  perOp,
  type Probe,
  type ProbeSample,
  type RecordSizes,
} from './history-probe.js';
import { percentile, summarize, type Summary } from './stats.js';

/** An HTTP client of the bench's control plane. */
export interface BenchApi {
  post(path: string, body: unknown): Promise<Record<string, unknown>>;
  del(path: string): Promise<Record<string, unknown>>;
  /** Long-polls the operation until it is done; throws unless it succeeded. */
  done(operationId: string): Promise<void>;
}

export interface GrowthFigure {
  /** What grew: one VM's stream or one host's. */
  what: string;
  all: Summary;
  firstP50: number;
  lastP50: number;
  /** p50 of the last 100 over p50 of the first 100: 1× means the cost does not grow with history. */
  ratio: number;
  /** Counted cost per operation of the first and the last 100, and the records' sizes at their start and end. */
  first?: ProbeSample;
  last?: ProbeSample;
  sizesAtStart?: RecordSizes;
  sizesAtEnd?: RecordSizes;
}

/** Samples the probe around the first and the last `windowOf(n)` operations of a sequential run. */
class Windows {
  private readonly marks = new Map<string, ProbeSample>();
  sizesAtStart?: RecordSizes;
  sizesAtEnd?: RecordSizes;

  constructor(
    private readonly probe: Probe | undefined,
    private readonly n: number,
  ) {}

  /** Call before operation i (and once more with i = n after the last). */
  async at(i: number, hostId: string, vmId?: string): Promise<void> {
    if (!this.probe) return;
    const k = windowOf(this.n);
    if (i === 0) this.sizesAtStart = await this.probe.sizes(hostId, vmId);
    if (i === this.n) this.sizesAtEnd = await this.probe.sizes(hostId, vmId);
    for (const [name, mark] of [
      ['firstStart', 0],
      ['firstEnd', k],
      ['lastStart', this.n - k],
      ['lastEnd', this.n],
    ] as const)
      if (i === mark) this.marks.set(name, await this.probe.sample());
  }

  costs(): Pick<GrowthFigure, 'first' | 'last' | 'sizesAtStart' | 'sizesAtEnd'> {
    const m = (name: string) => this.marks.get(name);
    const k = windowOf(this.n);
    if (!m('firstStart') || !m('lastEnd') || k === 0) return {};
    return {
      first: perOp(m('firstStart')!, m('firstEnd')!, k),
      last: perOp(m('lastStart')!, m('lastEnd')!, k),
      ...(this.sizesAtStart ? { sizesAtStart: this.sizesAtStart } : {}),
      ...(this.sizesAtEnd ? { sizesAtEnd: this.sizesAtEnd } : {}),
    };
  }
}

const windowOf = (n: number) => Math.min(100, Math.floor(n / 2));

/** The counted costs beside the wall-clock ratio (what grows shows here even when the machine's load hides it). */
export function printGrowthCosts(h: GrowthFigure): void {
  if (!h.first || !h.last) return;
  console.log(`  ${h.what}:`);
  console.log(`    first 100: ${formatCost(h.first)}`);
  console.log(`    last 100:  ${formatCost(h.last)}`);
  if (h.sizesAtStart) console.log(`    at start:  ${formatSizes(h.sizesAtStart)}`);
  if (h.sizesAtEnd) console.log(`    at end:    ${formatSizes(h.sizesAtEnd)}`);
  if (h.sizesAtStart && h.sizesAtEnd)
    console.log(`    Redis keys: ${formatKeyGrowth(h.sizesAtStart, h.sizesAtEnd, h.all.n) || 'none added'}`);
}

function growth(what: string, latencies: number[], wallMs: number): GrowthFigure {
  const k = windowOf(latencies.length);
  const p50 = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  const firstP50 = p50(latencies.slice(0, k));
  const lastP50 = p50(latencies.slice(-k));
  return { what, all: summarize(latencies, wallMs), firstP50, lastP50, ratio: lastP50 / firstP50 };
}

/** `ops` stop/start operations on one VM, one after the other, each timed from POST to done. */
export async function oneVmHistory(api: BenchApi, hostId: string, ops: number, probe?: Probe): Promise<GrowthFigure> {
  const created = await api.post('/v1/vms', { name: 'bench-history', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
  await api.done(created.operationId as string);
  const vmId = created.vmId as string;
  const lat: number[] = [];
  const windows = new Windows(probe, ops);
  const t0 = performance.now();
  for (let i = 0; i < ops; i++) {
    await windows.at(i, hostId, vmId);
    const s = performance.now();
    const r = await api.post(`/v1/vms/${vmId}/${i % 2 === 0 ? 'stop' : 'start'}`, {});
    await api.done(r.operationId as string);
    lat.push(performance.now() - s);
  }
  await windows.at(ops, hostId, vmId);
  return { ...growth(`${ops} stop/start on one VM`, lat, performance.now() - t0), ...windows.costs() };
}

/** `n` VMs created then deleted on one host, one after the other: the host stream grows by two events per VM. */
export async function oneHostHistory(api: BenchApi, hostId: string, n: number, probe?: Probe): Promise<GrowthFigure> {
  const lat: number[] = [];
  const windows = new Windows(probe, n);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    await windows.at(i, hostId);
    const s = performance.now();
    const r = await api.post('/v1/vms', { name: `churn-${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
    await api.done(r.operationId as string);
    lat.push(performance.now() - s);
    const d = await api.del(`/v1/vms/${r.vmId as string}`);
    await api.done(d.operationId as string);
  }
  await windows.at(n, hostId);
  return {
    ...growth(`${n} create+delete on one host (create timed; counts per create+delete)`, lat, performance.now() - t0),
    ...windows.costs(),
  };
}
