/**
 * The bench's creates sent from a worker thread: the client's own work (fetch,
 * JSON) must not run on the event loop of the server it measures, as no real
 * client does. Times are epoch milliseconds (timeOrigin + now), comparable
 * across the two threads.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { currentThreadCpuMs, mainThreadSchedMs } from './main-thread-cpu.js';
import { pool } from './stats.js';

export interface CreateLoad {
  base: string;
  token: string;
  n: number;
  concurrency: number;
  /** VM names are `${prefix}${i}`. */
  prefix: string;
}

export interface SentCreate {
  vmId: string;
  /** When the POST was sent (epoch ms). */
  sentAt: number;
  /** POST → 202, as the client saw it. */
  acceptMs: number;
  /**
   * The server's main-thread CPU time that passed while this POST was in flight, ms (Linux; NaN
   * elsewhere): what its event loop turned round before answering (other POSTs, sagas, projections),
   * without the time the loop waited for a core on a machine shared with other work.
   */
  acceptMainCpuMs: number;
}

export interface CreateLoadResult {
  sent: SentCreate[];
  /** CPU time of the client's thread (fetch, JSON) over the load, ms: the bench's, not the server's. */
  clientCpuMs?: number;
}

const KIND = 'vl-bench-create-load';
const epochNow = () => performance.timeOrigin + performance.now();

/** The process's main thread's CPU time so far, ms (NaN where /proc is not there); read from the client's thread. */
const serverMainCpuMs = (): number => mainThreadSchedMs()?.onCpu ?? NaN;

/** Sends the creates from a worker thread; rejects on the first answer that is not a 2xx. */
export function createsFromWorker(load: CreateLoad): Promise<CreateLoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { kind: KIND, load } });
    w.once('message', (m: ({ ok: true } & CreateLoadResult) | { ok: false; error: string }) =>
      m.ok ? resolve(m) : reject(new Error(m.error)),
    );
    w.once('error', reject);
  });
}

async function runInWorker(load: CreateLoad): Promise<CreateLoadResult> {
  const cpu0 = currentThreadCpuMs();
  const headers = { authorization: `Bearer ${load.token}`, 'content-type': 'application/json' };
  const sent: SentCreate[] = [];
  await pool(load.n, load.concurrency, async (i) => {
    const body = { name: `${load.prefix}${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1 };
    const sentAt = epochNow();
    const cpuAtSend = serverMainCpuMs();
    const res = await fetch(`${load.base}/v1/vms`, { method: 'POST', headers, body: JSON.stringify(body) });
    const json = (await res.json()) as Record<string, unknown>;
    const acceptMs = epochNow() - sentAt;
    const acceptMainCpuMs = serverMainCpuMs() - cpuAtSend;
    if (res.status >= 300) throw new Error(`POST /v1/vms: ${res.status} ${JSON.stringify(json)}`);
    sent.push({ vmId: json.vmId as string, sentAt, acceptMs, acceptMainCpuMs });
  });
  const cpu1 = currentThreadCpuMs();
  return { sent, ...(cpu0 !== undefined && cpu1 !== undefined ? { clientCpuMs: cpu1 - cpu0 } : {}) };
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === KIND) {
  const { load } = workerData as { load: CreateLoad };
  runInWorker(load).then(
    (result) => parentPort!.postMessage({ ok: true, ...result }),
    (err: unknown) => parentPort!.postMessage({ ok: false, error: String(err) }),
  );
}
