import { request } from 'node:http';

export interface RawRequest {
  method: string;
  /** Sent as is: traversal (`../`), `%00` and the like reach the server untouched. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const MAX_BODY = 1 << 20;

/**
 * One request over a plain socket, without the URL normalisation fetch or supertest
 * apply. An endless answer (the SSE feed) is cut once its head arrived.
 */
export function sendRaw(port: number, req: RawRequest, timeoutMs = 30000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const r = request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers: req.headers, timeout: timeoutMs },
      (res) => {
        const head = { status: res.statusCode ?? 0, headers: res.headers };
        if (String(res.headers['content-type'] ?? '').includes('text/event-stream')) {
          res.destroy();
          resolve({ ...head, text: '' });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_BODY) chunks.push(c);
        });
        res.on('end', () => resolve({ ...head, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on('error', reject);
    if (req.body) r.end(req.body);
    else r.end();
  });
}
