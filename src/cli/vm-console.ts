/** `virtledger vm console <id>` (the serial console over the API's WebSocket) and `vm console-log <id>`. */
import type { Command } from 'commander';
import type { IncomingMessage } from 'node:http';
import { CliError, failure, getJson, type Server } from './client.js';
import { serverCommand, intOption, type Opts } from './command-kit.js';
import { out } from './output.js';

/** Ctrl-] as telnet and `virsh console` have it: leaves the console, never reaches the guest. */
const ESCAPE = 0x1d;
/** Piped input without --until: once stdin ends, leave after the output has been quiet this long. */
const QUIET_MS = 1_000;

const id = (s: string) => encodeURIComponent(s);

function wsUrl(base: Server, path: string): string {
  const u = new URL(base.url + path);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

async function refused(base: Server, path: string, res: IncomingMessage): Promise<CliError> {
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return failure(base, path, new Response(body, { status: res.statusCode ?? 500 }));
}

/**
 * Raw terminal when stdin is a TTY (every key goes to the guest, Ctrl-] leaves); with a pipe,
 * its bytes are typed as they come and the command leaves when `--until` text has been seen,
 * or shortly after stdin ends. Console bytes go to stdout untouched, notices to stderr.
 */
async function attach(base: Server, vmId: string, opts: Opts): Promise<void> {
  const { WebSocket } = await import('ws');
  const path = `/v1/vms/${id(vmId)}/console`;
  const ws = new WebSocket(wsUrl(base, path), { headers: { Authorization: `Bearer ${base.token}` } });
  const until = typeof opts.until === 'string' ? opts.until : undefined;
  const tty = process.stdin.isTTY === true;
  let seen = '';
  let quiet: NodeJS.Timeout | undefined;
  let stdinEnded = false;

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (tty) process.stdin.setRawMode(false);
      process.stdin.pause();
      clearTimeout(quiet);
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
      if (err) reject(err);
      else resolve();
    };
    const armQuiet = () => {
      if (!stdinEnded || until !== undefined) return;
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(), QUIET_MS);
    };
    ws.on('unexpected-response', (_req, res) => {
      refused(base, path, res).then(finish, finish);
    });
    ws.on('error', (err) => finish(new CliError(`cannot open the console at ${base.url}: ${err.message}`)));
    ws.on('open', () => {
      if (tty) process.stdin.setRawMode(true);
      process.stdin.on('data', (chunk: Buffer) => {
        const stop = tty ? chunk.indexOf(ESCAPE) : -1;
        if (stop >= 0) {
          if (stop > 0) ws.send(chunk.subarray(0, stop), { binary: true });
          process.stderr.write('\r\n[console] left (Ctrl-])\r\n');
          finish();
          return;
        }
        ws.send(chunk, { binary: true });
      });
      process.stdin.on('end', () => {
        stdinEnded = true;
        armQuiet();
      });
      process.stdin.resume();
    });
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      if (!isBinary) {
        const note = JSON.parse(buf.toString('utf8')) as { type?: string; message?: string };
        process.stderr.write(`[console] ${note.message ?? ''}${tty ? '\r\n' : '\n'}`);
        return;
      }
      process.stdout.write(buf);
      armQuiet();
      if (until !== undefined) {
        // Enough of the end to find the text across chunk borders.
        seen = (seen + buf.toString('utf8')).slice(-(until.length + 64 * 1024));
        if (seen.includes(until)) finish();
      }
    });
    ws.on('close', (_code, reason) => {
      if (until !== undefined && !seen.includes(until)) {
        finish(new CliError(`the console closed before "${until}" was seen: ${reason.toString() || 'closed'}`, 1));
      } else finish();
    });
  });
}

export function registerVmConsole(vm: Command): void {
  serverCommand(vm, 'console <id>', "attach to a VM's serial console (container: its stdio); Ctrl-] leaves", (c) =>
    c.option('--until <text>', 'leave once the console has printed this text (scripts, pipes)'),
  )(async (base, opts, vmId) => attach(base, vmId!, opts));

  serverCommand(vm, 'console-log <id>', "the last lines of a VM's serial console log", (c) =>
    c.option('--tail <n>', 'how many lines (default 100)'),
  )(async (base, opts, vmId) => {
    const tail = intOption('tail', opts.tail as string | undefined, 1);
    const q = tail !== undefined ? `?tail=${tail}` : '';
    const view = await getJson<{ lines: string[] }>(base, `/v1/vms/${id(vmId!)}/console/log${q}`);
    if (opts.json) out(JSON.stringify(view, null, 2));
    else for (const line of view.lines) out(line);
  });
}
