import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorBody } from './error-body.js';

/** Seconds a refused client is told to wait: the shortest `Retry-After` can say. */
const RETRY_AFTER_S = 1;

/**
 * Requests that wait rather than work: a live feed (SSE) and an operation long-poll
 * (`?waitMs=`) hold their connection for seconds to minutes at almost no cost, as a
 * watch does on Kubernetes' API server, which leaves those out of its in-flight limit too.
 */
export function isLongRunning(method: string | undefined, url: string): boolean {
  if (method !== 'GET') return false;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path === '/v1/events/stream') return true;
  return q >= 0 && /[?&]waitMs=[1-9]/.test(url.slice(q));
}

/**
 * Admission control for the API (`MAX_REQUESTS_IN_FLIGHT`): at most `limit` requests
 * under `/v1/` are being worked on at once; one more is answered 429 with
 * `Retry-After` at once, before anything is recorded, instead of joining the queue. It
 * runs once a JSON body has been read (a body still arriving is the client's time, not
 * the server's work: counting it would let slow clients take every place); an image
 * upload, streamed by its handler, is counted while it streams. One event loop runs the edge, the sagas, the projections and the
 * results: past what it can turn round, every extra request waits behind the others
 * (200 clients without pause made every read wait ~120 ms on a quiet machine), so a
 * bounded number in flight keeps the latency of those admitted bounded, and an
 * overloaded server says so, as Kubernetes' `--max-requests-inflight` does. Health,
 * metrics, the web console and the docs are not counted (monitors poll them); nor are
 * long-running reads (`isLongRunning`). A command refused here appended nothing: it
 * may be sent again as it was (an `Idempotency-Key` was not claimed).
 */
export class AdmissionGate {
  private inFlight = 0;

  constructor(
    readonly limit: number,
    private readonly onRefused: (method: string) => void = () => undefined,
  ) {}

  /** Express/connect middleware; `limit` 0 admits everything. */
  readonly middleware = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = req.url ?? '';
    if (this.limit <= 0 || !url.startsWith('/v1/') || isLongRunning(req.method, url)) return next();
    if (this.inFlight >= this.limit) {
      this.onRefused(req.method ?? 'GET');
      refuse(res, this.limit);
      return;
    }
    this.inFlight++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.inFlight--;
    };
    // 'close' follows 'finish' and also comes alone when the client went away first.
    res.once('finish', release);
    res.once('close', release);
    next();
  };
}

function refuse(res: ServerResponse, limit: number): void {
  const body = JSON.stringify(
    errorBody(
      429,
      `the server is busy: ${limit} requests are in flight (MAX_REQUESTS_IN_FLIGHT); retry after ${RETRY_AFTER_S} s`,
    ),
  );
  res.statusCode = 429;
  res.setHeader('Retry-After', String(RETRY_AFTER_S));
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  // The body is not read: Node discards it once the answer is sent, and the connection stays usable.
  res.end(body);
}
