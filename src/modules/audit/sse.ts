import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { EventStore, RecordedEvent } from '../../eventstore/event-store.port.js';
import { toEventView } from './event.view.js';

/** How long a client may leave the socket full before it is cut off (and told where to resume). */
const SLOW_CLIENT_MS = 10000;
const HEARTBEAT_MS = 15000;

function waitDrain(res: Response, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off('drain', onDrain);
      resolve(false);
    }, ms);
    const onDrain = () => {
      clearTimeout(timer);
      resolve(true);
    };
    res.once('drain', onDrain);
  });
}

/**
 * One catch-up subscription per client. The subscription waits for each
 * write to be accepted by the socket, so a slow client slows its own feed;
 * one that stays blocked is cut off with an `error` event naming the
 * position to resume after (never silently skipped).
 */
export function streamEvents(
  store: EventStore,
  req: Request,
  res: Response,
  after: bigint | undefined,
  log: Logger,
): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/event-stream');
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  res.setHeader('Connection', 'keep-alive');
  res.setHeader('X-Accel-Buffering', 'no');
  res.flushHeaders();
  res.write('retry: 1000\n\n');
  let lastSent = after;
  let closed = false;
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const sub = store.subscribeToAll({
    ...(after !== undefined ? { after } : {}),
    onEvent: async (e: RecordedEvent) => {
      if (closed) return;
      const ok = res.write(`id: ${e.position}\nevent: ${e.type}\ndata: ${JSON.stringify(toEventView(e))}\n\n`);
      lastSent = e.position;
      if (!ok && !(await waitDrain(res, SLOW_CLIENT_MS))) {
        res.write(
          `event: error\ndata: ${JSON.stringify({
            message: 'client too slow: disconnected; reconnect with Last-Event-ID to resume',
            resumeAfter: lastSent?.toString() ?? null,
          })}\n\n`,
        );
        close();
      }
    },
    onError: (err) => {
      log.warn({ err }, 'SSE subscription failed');
      close();
    },
  });
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    void sub.stop();
    res.end();
  };
  req.on('close', close);
}
