/**
 * Server-sent events read with fetch() and a stream reader: EventSource cannot send
 * an Authorization header, and the token must not go in the URL. Reconnects after a
 * drop, resuming after the last id it saw (Last-Event-ID), until aborted.
 */
import { ApiError, authHeaders } from './api.js';

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface FollowHandlers {
  onEvent(e: SseEvent): void;
  onStatus(status: 'live' | 'reconnecting', detail?: string): void;
  /** The server refused (401/403/4xx): no retry. */
  onRefused(err: ApiError): void;
}

export async function follow(path: string, signal: AbortSignal, on: FollowHandlers): Promise<void> {
  let lastId: string | undefined;
  let delayMs = 500;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream', ...authHeaders() };
      if (lastId) headers['Last-Event-ID'] = lastId;
      const res = await fetch(path, { headers, signal });
      if (res.status >= 400 && res.status < 500) {
        on.onRefused(new ApiError(res.status, (await res.text()) || res.statusText));
        return;
      }
      if (!res.ok || !res.body) throw new Error(`${res.status} ${res.statusText}`);
      on.onStatus('live');
      delayMs = 500;
      for await (const e of frames(res.body)) {
        if (e.id) lastId = e.id;
        on.onEvent(e);
      }
    } catch (err) {
      if (signal.aborted) return;
      on.onStatus('reconnecting', err instanceof Error ? err.message : String(err));
    }
    if (signal.aborted) return;
    on.onStatus('reconnecting');
    await new Promise((r) => setTimeout(r, delayMs));
    delayMs = Math.min(delayMs * 2, 10_000);
  }
}

/** Parses the text/event-stream framing: fields until a blank line; comments (`:`) ignored. */
async function* frames(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let cur: { id?: string; event?: string; data: string[] } = { data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buf.search(/\r\n|\n|\r/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (cur.data.length > 0 || cur.event) yield { id: cur.id, event: cur.event, data: cur.data.join('\n') };
        cur = { data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') cur.data.push(value);
      else if (field === 'id') cur.id = value;
      else if (field === 'event') cur.event = value;
    }
  }
}
