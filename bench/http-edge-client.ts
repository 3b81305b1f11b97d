/**
 * The client of `http-edge.ts`, in a worker thread of its own: its fetch and JSON work is not
 * charged to the main thread the bench measures. A module of its own so that the thread does not
 * load the app; one thread for the whole run, sent one batch at a time.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { pool } from './stats.js';

export const TOKEN = 'bench-admin-token-0123456789';
const KIND = 'vl-bench-http-edge';

/** One batch of requests of one route, as the client thread sends it. */
export interface Batch {
  base: string;
  method: 'GET' | 'POST';
  /** GET: the paths, taken in turn. POST: one path; the body names a new VM `${namePrefix}${i}`. */
  paths: string[];
  namePrefix: string;
  n: number;
  concurrency: number;
}

type Answer = { ok: true; ms: number[] } | { ok: false; error: string };

/** The client thread: `send` resolves with each request's latency, rejects on any answer not 2xx. */
export class EdgeClient {
  private readonly worker = new Worker(new URL(import.meta.url), { workerData: { kind: KIND } });

  send(batch: Batch): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.worker.once('message', (m: Answer) => (m.ok ? resolve(m.ms) : reject(new Error(m.error))));
      this.worker.postMessage(batch);
    });
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}

async function run(b: Batch): Promise<number[]> {
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
  const ms: number[] = [];
  await pool(b.n, b.concurrency, async (i) => {
    const t0 = performance.now();
    const res =
      b.method === 'POST'
        ? await fetch(b.base + b.paths[0]!, {
            method: 'POST',
            headers,
            body: JSON.stringify({ name: `${b.namePrefix}${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1 }),
          })
        : await fetch(b.base + b.paths[i % b.paths.length]!, { headers });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${b.method} ${b.paths[0]}: ${res.status} ${text}`);
    ms.push(performance.now() - t0);
  });
  return ms;
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === KIND) {
  parentPort!.on('message', (batch: Batch) => {
    run(batch).then(
      (ms) => parentPort!.postMessage({ ok: true, ms } satisfies Answer),
      (err: unknown) => parentPort!.postMessage({ ok: false, error: String(err) } satisfies Answer),
    );
  });
}
