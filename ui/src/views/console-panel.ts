import { api, ApiError } from '../api.js';
import { errorLine, h, mount } from '../dom.js';

/** What the page keeps of the console's output: enough to scroll back a little, never unbounded. */
const KEEP_CHARS = 64 * 1024;

interface Ticket {
  url: string;
  mode: 'read-write' | 'read-only';
}

/**
 * A minimal serial console: a <pre> of what the VM printed and one input line sent with Enter.
 * (xterm.js would be the upgrade: a real terminal with cursor movement and raw keys.) Browsers
 * cannot put a header on a WebSocket, so the page asks for a one-use ticket with its token
 * (fetch, header) and opens the socket with the ticket; the token never appears in a URL.
 * Escape sequences are dropped for display; carriage returns too.
 */
export function consolePanel(vmId: string, signal: AbortSignal): HTMLElement {
  const q = encodeURIComponent(vmId);
  const output = h('pre', { id: 'console-output', class: 'console', 'aria-live': 'polite' });
  const status = h('p', { id: 'console-status', 'data-console': 'closed' }, 'Not attached.');
  const line = h('input', {
    name: 'line',
    autocomplete: 'off',
    placeholder: 'a command, sent with Enter',
    disabled: true,
  });
  const send = h('button', { type: 'submit', disabled: true }, 'Send');
  let ws: WebSocket | undefined;
  const decoder = new TextDecoder();

  const append = (text: string) => {
    // eslint-disable-next-line no-control-regex
    const clean = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
    output.textContent = ((output.textContent ?? '') + clean).slice(-KEEP_CHARS);
    output.scrollTop = output.scrollHeight;
  };
  const setStatus = (state: string, text: string) => {
    status.dataset.console = state;
    mount(status, text);
  };
  const close = () => {
    ws?.close();
    ws = undefined;
  };
  signal.addEventListener('abort', close);

  const open = async () => {
    close();
    setStatus('opening', 'Attaching…');
    let ticket: Ticket;
    try {
      ticket = await api<Ticket>('POST', `/v1/vms/${q}/console/ticket`);
    } catch (err) {
      setStatus('closed', err instanceof ApiError ? `Cannot attach: ${err.message}` : 'Cannot attach.');
      return;
    }
    const url = new URL(ticket.url, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(url.toString());
    socket.binaryType = 'arraybuffer';
    ws = socket;
    socket.onopen = () => {
      const rw = ticket.mode === 'read-write';
      setStatus('open', rw ? 'Attached (read-write).' : 'Attached (read-only: your role may watch, not type).');
      line.disabled = !rw;
      send.disabled = !rw;
    };
    socket.onmessage = (m: MessageEvent<ArrayBuffer | string>) => {
      if (typeof m.data === 'string') {
        const note = JSON.parse(m.data) as { type?: string; message?: string };
        append(`\n[${note.type ?? 'notice'}] ${note.message ?? ''}\n`);
      } else append(decoder.decode(m.data, { stream: true }));
    };
    socket.onclose = (e) => {
      if (ws === socket) ws = undefined;
      line.disabled = true;
      send.disabled = true;
      setStatus('closed', `Detached${e.reason ? `: ${e.reason}` : ''}.`);
    };
  };

  const form = h(
    'form',
    {
      id: 'console-input',
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (!ws || ws.readyState !== WebSocket.OPEN) return;
        ws.send(new TextEncoder().encode(`${line.value}\n`));
        line.value = '';
      },
    },
    line,
    ' ',
    send,
  );
  const showLog = async () => {
    try {
      const log = await api<{ lines: string[] }>('GET', `/v1/vms/${q}/console/log?tail=100`);
      output.textContent = '';
      append(`${log.lines.join('\n')}\n`);
    } catch (err) {
      mount(status, errorLine(err));
    }
  };
  return h(
    'section',
    { id: 'console' },
    h('h2', {}, 'Console'),
    h(
      'p',
      { class: 'actions' },
      h('button', { type: 'button', 'data-action': 'console-attach', onclick: () => void open() }, 'Attach'),
      ' ',
      h('button', { type: 'button', 'data-action': 'console-detach', onclick: close }, 'Detach'),
      ' ',
      h('button', { type: 'button', 'data-action': 'console-log', onclick: () => void showLog() }, 'Last 100 lines'),
    ),
    status,
    output,
    form,
  );
}
