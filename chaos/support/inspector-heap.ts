/**
 * The live heap of a process started with `--inspect=127.0.0.1:0`, through its
 * inspector: a forced full GC, then the heap V8 still uses. What a full GC leaves is
 * what the process really holds; RSS also counts the garbage V8 lets pile up between
 * full GCs (more under load), so only this tells a leak from a lazy collector.
 */
import WebSocket from 'ws';

/** The inspector's WebSocket URL, from what the process printed ("Debugger listening on ws://…"). */
export function inspectorUrl(output: string): string | undefined {
  return /Debugger listening on (ws:\/\/\S+)/.exec(output)?.[1];
}

export type InspectorCall = (method: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** Runs `use` with one inspector session on `url`; every call fails after `timeoutMs`. */
export async function withInspector<T>(
  url: string,
  use: (call: InspectorCall) => Promise<T>,
  timeoutMs = 30000,
): Promise<T> {
  const ws = new WebSocket(url);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let next = 1;
    const call: InspectorCall = (method, params) =>
      new Promise((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(
          () => reject(new Error(`inspector ${method}: no answer in ${timeoutMs} ms`)),
          timeoutMs,
        );
        const onMessage = (raw: WebSocket.RawData) => {
          const msg = JSON.parse(raw.toString()) as { id?: number; result?: Record<string, unknown>; error?: unknown };
          if (msg.id !== id) return;
          clearTimeout(timer);
          ws.off('message', onMessage);
          if (msg.error) reject(new Error(`inspector ${method}: ${JSON.stringify(msg.error)}`));
          else resolve(msg.result ?? {});
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id, method, ...(params ? { params } : {}) }));
      });
    return await use(call);
  } finally {
    ws.close();
  }
}

/** MiB of heap in use right after a full GC of the process behind `url`. */
export async function liveHeapMiB(url: string, timeoutMs = 30000): Promise<number> {
  return withInspector(
    url,
    async (call) => {
      await call('HeapProfiler.collectGarbage');
      const usage = await call('Runtime.getHeapUsage');
      return Number(usage.usedSize) / (1024 * 1024);
    },
    timeoutMs,
  );
}

/** The process's own `process.memoryUsage()` in MiB (rss, heapTotal, heapUsed, external, arrayBuffers). */
export async function memoryUsageMiB(call: InspectorCall): Promise<Record<string, number>> {
  const r = await call('Runtime.evaluate', {
    expression:
      'Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, Math.round(v / 104857.6) / 10]))',
    returnByValue: true,
  });
  return ((r.result as { value?: Record<string, number> } | undefined)?.value ?? {}) as Record<string, number>;
}
