import assert from 'node:assert/strict';
import { get as httpGet, type ClientRequest, type IncomingMessage } from 'node:http';
import { TOKENS } from './app.js';
import type { Json } from './e2e.js';

/** A named SSE frame as GET /v1/events/stream sends it (the unnamed copies are left out). */
export interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

/** A raw SSE connection: frames parsed as they arrive, consumed one by one with next(). */
export class SseConnection {
  readonly frames: Frame[] = [];
  consumed = 0;
  ended = false;
  private buf = '';
  private wake: (() => void) | undefined;

  private constructor(
    private readonly req: ClientRequest,
    readonly res: IncomingMessage,
  ) {}

  /** Opens the stream; with `paused` nothing is read from the socket until resume(). */
  static open(port: number, headers: Record<string, string> = {}, paused = false): Promise<SseConnection> {
    return new Promise((resolve, reject) => {
      const req = httpGet(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/events/stream',
          headers: { Authorization: `Bearer ${TOKENS.auditor}`, Accept: 'text/event-stream', ...headers },
        },
        (res) => {
          const c = new SseConnection(req, res);
          res.setEncoding('utf8');
          res.on('end', () => {
            c.ended = true;
            c.wake?.();
          });
          res.on('error', () => undefined);
          if (!paused) c.resume();
          resolve(c);
        },
      );
      req.on('error', reject);
    });
  }

  resume(): void {
    this.res.on('data', (chunk: string) => this.onData(chunk));
    this.res.resume();
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const raw = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const frame: Frame = {};
      for (const line of raw.split('\n')) {
        const m = /^(id|event|data): ?(.*)$/.exec(line);
        if (m) frame[m[1] as keyof Frame] = m[2];
      }
      // Each event also comes as an unnamed copy (no id, no event name) for EventSource.onmessage;
      // these checks follow the named frames.
      if (frame.data !== undefined && (frame.id !== undefined || frame.event !== undefined)) this.frames.push(frame);
    }
    this.wake?.();
  }

  /** The next frame, or null when the stream ended or nothing came within ms. */
  async next(ms: number): Promise<Frame | null> {
    const deadline = Date.now() + ms;
    while (this.consumed >= this.frames.length) {
      if (this.ended || Date.now() >= deadline) return null;
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.min(200, deadline - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
    return this.frames[this.consumed++]!;
  }

  /** Resolves once a frame has arrived that was not consumed (or the stream ended), or after at most ms. */
  async unreadArrives(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.consumed >= this.frames.length && !this.ended && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, deadline - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }

  /** Drops the connection; frames received but not consumed are lost, as in a real crash. */
  drop(): number {
    this.req.destroy();
    return this.frames.length - this.consumed;
  }
}

/** Checks an id frame against the stored event at the same place of the log. */
export function assertFrameIs(frame: Frame, e: { position: bigint; type: string; id: string; streamId: string }): void {
  assert.equal(frame.id, e.position.toString());
  assert.equal(frame.event, e.type);
  const body = JSON.parse(frame.data!) as Json;
  assert.deepEqual(
    { position: body.position, id: body.id, streamId: body.streamId, type: body.type },
    { position: e.position.toString(), id: e.id, streamId: e.streamId, type: e.type },
  );
}
