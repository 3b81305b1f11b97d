/**
 * The live heaps of a process's worker threads (each its own V8 isolate, which
 * process.memoryUsage() does not count), through the main thread's inspector: the
 * NodeWorker domain attaches to each worker, and each gets a forced full GC and a
 * Runtime.getHeapUsage. Node 20 has no worker.getHeapStatistics(), and the product
 * keeps no debug endpoint for it.
 */
import WebSocket from 'ws';

export interface WorkerHeap {
  /** The name the worker was started with (e.g. `sqlite-writer`). */
  title: string;
  usedMiB: number;
  totalMiB: number;
}

interface Attached {
  sessionId: string;
  workerInfo: { title: string };
}

type Message = { id?: number; method?: string; params?: Record<string, unknown>; result?: Record<string, unknown> };

/** Every worker thread's live heap after a forced full GC, MiB; fails after `timeoutMs`. */
export async function workerHeapsMiB(url: string, timeoutMs = 30000): Promise<WorkerHeap[]> {
  const ws = new WebSocket(url);
  const timer = setTimeout(() => ws.terminate(), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const attached: Attached[] = [];
    /** Answers from inside a worker, by session and id. */
    const waiting = new Map<string, (m: Message) => void>();
    let next = 1;
    const replies = new Map<number, (m: Message) => void>();
    ws.on('message', (raw: WebSocket.RawData) => {
      const m = JSON.parse(raw.toString()) as Message;
      if (m.id !== undefined) replies.get(m.id)?.(m);
      else if (m.method === 'NodeWorker.attachedToWorker') attached.push(m.params as unknown as Attached);
      else if (m.method === 'NodeWorker.receivedMessageFromWorker') {
        const { sessionId, message } = m.params as { sessionId: string; message: string };
        const inner = JSON.parse(message) as Message;
        if (inner.id !== undefined) waiting.get(`${sessionId}:${inner.id}`)?.(inner);
      }
    });
    const closed = new Promise<never>((_, reject) =>
      ws.once('close', () => reject(new Error(`inspector ${url}: closed (or no answer in ${timeoutMs} ms)`))),
    );
    const call = (method: string, params?: Record<string, unknown>): Promise<Message> => {
      const id = next++;
      const answer = new Promise<Message>((resolve) => replies.set(id, resolve));
      ws.send(JSON.stringify({ id, method, ...(params ? { params } : {}) }));
      return Promise.race([answer, closed]);
    };
    const inWorker = (sessionId: string, method: string): Promise<Message> => {
      const id = next++;
      const answer = new Promise<Message>((resolve) => waiting.set(`${sessionId}:${id}`, resolve));
      void call('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id, method }) });
      return Promise.race([answer, closed]);
    };
    // Workers that already run are announced (attachedToWorker) before enable's answer.
    await call('NodeWorker.enable', { waitForDebuggerOnStart: false });
    const heaps: WorkerHeap[] = [];
    for (const w of attached) {
      await inWorker(w.sessionId, 'HeapProfiler.collectGarbage');
      const usage = (await inWorker(w.sessionId, 'Runtime.getHeapUsage')).result ?? {};
      heaps.push({
        title: w.workerInfo.title,
        usedMiB: Number(usage.usedSize) / (1024 * 1024),
        totalMiB: Number(usage.totalSize) / (1024 * 1024),
      });
    }
    await call('NodeWorker.disable');
    return heaps;
  } finally {
    clearTimeout(timer);
    ws.close();
  }
}
