import { CliError, failure, request, type Server } from './client.js';
import type { EventItem } from './event-row.js';
import { out } from './output.js';

/**
 * `audit log --follow`: the server's SSE feed, printed as events arrive until the user stops it.
 * Only the named frames are read: the feed repeats each event unnamed for EventSource's onmessage.
 */
export async function followEvents(
  base: Server,
  filter: { vm?: string; type?: string; from: string },
  json: boolean,
): Promise<void> {
  const q = new URLSearchParams({ fromPosition: filter.from });
  if (filter.vm) q.set('vmId', filter.vm);
  if (filter.type) q.set('type', filter.type);
  const path = `/v1/events/stream?${q}`;
  const res = await request(base, path, 'text/event-stream');
  if (!res.ok) throw await failure(base, path, res);
  if (!res.body) throw new CliError(`${base.url}/v1/events/stream sent no body`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = frame.split('\n');
      const name = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (!name || data === undefined) continue;
      if (name === 'error') throw new CliError(`the event feed stopped: ${data}`);
      if (json) {
        out(data);
        continue;
      }
      const e = JSON.parse(data) as EventItem;
      out([e.position, e.metadata.at, e.streamId, String(e.revision), e.type, e.metadata.principal].join('  '));
    }
  }
  throw new CliError(`${base.url} closed the event feed`);
}
