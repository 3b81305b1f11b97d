import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { writeJsonAtomic } from '../kit/vm-files.js';

export interface TarListener {
  host: string;
  port: number;
  /** One-time secret the sender must present first: the port is open to anyone on the network. */
  token: string;
}

const HEADER_LIMIT = 4096;
/** Connections at once per listener: a flood of strangers is turned away, not queued. */
const MAX_CONNECTIONS = 16;
const REFUSE_LINGER_MS = 2_000;

/**
 * The target side of a cold migration over TCP: one listener per incoming VM, living in the
 * worker process between prepareIncoming and finish/abort. The stream is
 * `<token>\n<{"wasRunning":bool}>\n<tar of spec.json, rootfs/, snapshots/>`; it is unpacked into
 * `<staging>/payload.part`, renamed to `payload` when tar succeeds, and answered `OK` (or
 * `ERR <why>`), so the source deletes its copy only after the target has all of it.
 * A worker restart closes the listener: the source's migrate then fails and the saga aborts.
 */
export class TarReceivers {
  private readonly open = new Map<string, { server: Server; listener: TarListener }>();

  /** `headerTimeoutMs`: how long a connection may take to present its token before it is dropped. */
  constructor(private readonly headerTimeoutMs = 10_000) {}

  async listen(vmId: string, stagingDir: string, host: string): Promise<TarListener> {
    const existing = this.open.get(vmId);
    if (existing) return existing.listener;
    const token = randomBytes(24).toString('hex');
    let busy = false;
    // Anyone on the network may connect: a connection claims the transfer only after it has shown
    // the token, and must show it within the header timeout, so strangers (silent or not) can
    // neither block the real sender nor hold sockets open.
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      void (async () => {
        let header: Header;
        try {
          header = await readHeader(socket, this.headerTimeoutMs);
          if (!sameSecret(header.lines[0] ?? '', token)) throw new Error('bad token');
        } catch (err) {
          refuse(socket, err);
          return;
        }
        if (busy) {
          socket.end('ERR another transfer is in progress\n');
          return;
        }
        busy = true;
        await receive(socket, header, stagingDir).finally(() => (busy = false));
      })();
    });
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('listener has no TCP address');
    const listener = { host, port: address.port, token };
    this.open.set(vmId, { server, listener });
    return listener;
  }

  close(vmId: string): void {
    const entry = this.open.get(vmId);
    if (!entry) return;
    entry.server.close();
    this.open.delete(vmId);
  }

  closeAll(): void {
    for (const vmId of [...this.open.keys()]) this.close(vmId);
  }
}

interface Header {
  lines: string[];
  rest: Buffer;
}

function refuse(socket: Socket, err: unknown): void {
  socket.end(`ERR ${(err as Error).message.replace(/\s+/g, ' ').slice(0, 500)}\n`);
  // A sender still streaming reads the answer before the close; a peer that never reads or
  // closes keeps nothing here past the linger.
  setTimeout(() => socket.destroy(), REFUSE_LINGER_MS).unref();
}

/** Unpacks the tar of an authenticated sender (its header already read and checked). */
async function receive(socket: Socket, header: Header, stagingDir: string): Promise<void> {
  const part = join(stagingDir, 'payload.part');
  try {
    const { wasRunning } = JSON.parse(header.lines[1] ?? '{}') as { wasRunning?: unknown };
    rmSync(part, { recursive: true, force: true });
    mkdirSync(part, { recursive: true });
    await untar(socket, header.rest, part);
    writeJsonAtomic(join(stagingDir, 'sent.json'), { wasRunning: wasRunning === true });
    rmSync(join(stagingDir, 'payload'), { recursive: true, force: true });
    renameSync(part, join(stagingDir, 'payload'));
    socket.end('OK\n');
  } catch (err) {
    rmSync(part, { recursive: true, force: true });
    refuse(socket, err);
  }
}

/** The two header lines, and whatever tar data arrived in the same chunks; bounded in size and time. */
function readHeader(socket: Socket, timeoutMs: number): Promise<Header> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (err?: Error, header?: Header): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      if (err) reject(err);
      else resolve(header as Header);
    };
    const timer = setTimeout(() => done(new Error(`no header within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const first = buf.indexOf(10);
      const second = first < 0 ? -1 : buf.indexOf(10, first + 1);
      if (second >= 0) {
        socket.pause();
        done(undefined, {
          lines: [buf.subarray(0, first).toString(), buf.subarray(first + 1, second).toString()],
          rest: buf.subarray(second + 1),
        });
      } else if (buf.length > HEADER_LIMIT) {
        done(new Error('header too long'));
      }
    };
    socket.on('data', onData);
    socket.once('end', () => done(new Error('connection closed before the header')));
    socket.once('error', (err) => done(err));
  });
}

function untar(socket: Socket, first: Buffer, dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-x', '-p', '--numeric-owner', '-f', '-', '-C', dir], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar -x: ${stderr.trim() || code}`))));
    tar.stdin.on('error', () => undefined); // tar died: its exit code says why
    if (first.length > 0) tar.stdin.write(first);
    socket.pipe(tar.stdin);
    socket.resume();
  });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
