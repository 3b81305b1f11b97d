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
}

function growth(what: string, latencies: number[], wallMs: number): GrowthFigure {
  const k = Math.min(100, Math.floor(latencies.length / 2));
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
export async function oneVmHistory(api: BenchApi, hostId: string, ops: number): Promise<GrowthFigure> {
  const created = await api.post('/v1/vms', { name: 'bench-history', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
  await api.done(created.operationId as string);
  const vmId = created.vmId as string;
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < ops; i++) {
    const s = performance.now();
    const r = await api.post(`/v1/vms/${vmId}/${i % 2 === 0 ? 'stop' : 'start'}`, {});
    await api.done(r.operationId as string);
    lat.push(performance.now() - s);
  }
  return growth(`${ops} stop/start on one VM`, lat, performance.now() - t0);
}

/** `n` VMs created then deleted on one host, one after the other: the host stream grows by two events per VM. */
export async function oneHostHistory(api: BenchApi, hostId: string, n: number): Promise<GrowthFigure> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const r = await api.post('/v1/vms', { name: `churn-${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
    await api.done(r.operationId as string);
    lat.push(performance.now() - s);
    const d = await api.del(`/v1/vms/${r.vmId as string}`);
    await api.done(d.operationId as string);
  }
  return growth(`${n} create+delete on one host (create timed)`, lat, performance.now() - t0);
}
