import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { EventStore, RecordedEvent } from '../../eventstore/event-store.port.js';
import { toEventView } from './event.view.js';

export interface SseOptions {
  /** How long a client may leave the socket full before it is cut off (and told where to resume). */
  slowClientMs: number;
  heartbeatMs: number;
  /** Events skipped: those the caller may not see (project scoping) or did not ask for (?vmId=, ?type=). */
  keep?: (e: RecordedEvent) => Promise<boolean>;
}

/** The settings every stream uses unless told otherwise; tests shorten slowClientMs here rather than wait 10 s. */
export const SSE_DEFAULTS: SseOptions = { slowClientMs: 10000, heartbeatMs: 15000 };

/** Resolves true on drain, false when the wait is over or the response closed first. */
function waitDrain(res: Response, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

/**
 * Each event twice: named by its type (for `addEventListener('VmCreated')`), then
 * unnamed, which EventSource delivers to `onmessage`. The unnamed copy carries no
 * `id:` so it moves no resume position; the browser keeps the named frame's id.
 */
function eventFrames(e: RecordedEvent): string {
  const data = JSON.stringify(toEventView(e));
  return `id: ${e.position}\nevent: ${e.type}\ndata: ${data}\n\ndata: ${data}\n\n`;
}

/**
 * One catch-up subscription per client. The subscription waits for each
 * write to be accepted by the socket, so a slow client slows its own feed;
 * one that stays blocked is cut off with an `error` event naming the
 * position to resume after (never silently skipped). Every frame written
 * before that message reaches the client before it, so `resumeAfter` is
 * always the id of the last event the client got.
 */
export function streamEvents(
  store: EventStore,
  req: Request,
  res: Response,
  after: bigint | undefined,
  log: Logger,
  options?: SseOptions,
): void {
  const opts = options ?? { ...SSE_DEFAULTS };
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  res.write('retry: 1000\n\n');
  let lastSent = after;
  let closed = false;
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), opts.heartbeatMs);
  const sub = store.subscribeToAll({
    ...(after !== undefined ? { after } : {}),
    onEvent: async (e: RecordedEvent) => {
      if (closed) return;
      if (opts.keep && !(await opts.keep(e))) return;
      if (closed) return;
      const ok = res.write(eventFrames(e));
      lastSent = e.position;
      if (ok || (await waitDrain(res, opts.slowClientMs)) || closed) return;
      res.write(
        `event: error\ndata: ${JSON.stringify({
          message: `client too slow: disconnected; reconnect with Last-Event-ID: ${lastSent} to resume`,
          resumeAfter: lastSent.toString(),
        })}\n\n`,
      );
      close();
      // A client that never reads again must not pin the buffered frames forever.
      const kill = setTimeout(() => res.destroy(), opts.slowClientMs);
      kill.unref();
      res.once('finish', () => clearTimeout(kill));
      res.once('close', () => clearTimeout(kill));
    },
    onError: (err) => {
      log.warn({ err }, 'SSE subscription failed');
      close();
    },
  });
  function close(): void {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    void sub.stop();
    if (!res.writableEnded) res.end();
  }
  // The response's close covers both a client that went away and a socket torn down.
  req.on('close', close);
  res.on('close', close);
}
