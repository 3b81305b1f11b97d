import { h } from '../dom.js';
import { follow } from '../sse.js';

/**
 * Calls `refresh` (coalesced) whenever the event stream at `path` delivers, and shows
 * the feed's status. A role the stream refuses (viewer) falls back to polling.
 */
export function liveRefresh(path: string, signal: AbortSignal, refresh: () => Promise<void>): HTMLElement {
  const label = h('span', { id: 'live', 'data-live': 'connecting' }, 'connecting…');
  const set = (state: string, text: string) => {
    label.dataset.live = state;
    label.textContent = text;
  };
  let pending: ReturnType<typeof setTimeout> | undefined;
  const soon = () => {
    if (pending !== undefined) return;
    pending = setTimeout(() => {
      pending = undefined;
      if (!signal.aborted) void refresh().catch(() => undefined);
    }, 100);
  };
  void follow(path, signal, {
    onEvent: soon,
    onStatus: (s, detail) => set(s, s === 'live' ? 'live updates' : `reconnecting${detail ? ` (${detail})` : ''}`),
    onRefused: (err) => {
      set('polling', `no event stream for this role (${err.status}); refreshing every 5 s`);
      const timer = setInterval(soon, 5000);
      signal.addEventListener('abort', () => clearInterval(timer));
    },
  });
  return label;
}
