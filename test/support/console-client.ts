import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { waitFor } from './wait.js';

/** A refused upgrade: the HTTP status and the API's error body. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upgrade refused: ${status} ${body}`);
  }
}

/** One console WebSocket as a test drives it: everything received is kept, and waited for. */
export class ConsoleClient {
  private bytes = '';
  readonly notices: { type: string; message: string }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      if (isBinary) this.bytes += buf.toString('utf8');
      else this.notices.push(JSON.parse(buf.toString('utf8')) as { type: string; message: string });
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  /** Opens `/v1/vms/{id}/console` with a bearer token or a ticket; rejects with UpgradeRefused. */
  static open(port: number, vmId: string, auth: { token?: string; ticket?: string }): Promise<ConsoleClient> {
    const q = auth.ticket ? `?ticket=${encodeURIComponent(auth.ticket)}` : '';
    const headers = auth.token ? { authorization: `Bearer ${auth.token}` } : undefined;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/vms/${vmId}/console${q}`, { headers });
    const client = new ConsoleClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(new UpgradeRefused(res.statusCode ?? 0, body)));
      });
      ws.once('error', (err) => reject(err));
    });
  }

  get output(): string {
    return this.bytes;
  }

  type(text: string): void {
    this.ws.send(Buffer.from(text), { binary: true });
  }

  async waitForOutput(text: string, timeoutMs = 30_000): Promise<void> {
    await waitFor(() => this.bytes.includes(text), {
      what: `"${text}" on the console (got: ${JSON.stringify(this.bytes.slice(-400))})`,
      timeoutMs,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; output: ${JSON.stringify(this.bytes.slice(-400))}`);
    });
  }

  async waitForNotice(pattern: RegExp, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.notices.some((n) => pattern.test(n.message)), {
      what: `a notice matching ${pattern}; got ${JSON.stringify(this.notices)}`,
      timeoutMs,
    });
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}
