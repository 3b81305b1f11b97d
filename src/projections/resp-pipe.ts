import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from 'node:tls';
import type { Redis } from 'ioredis';

/** Bytes of protocol text gathered before a socket write (a write per command cost more than the text). */
const WRITE_BYTES = 64 * 1024;
const NEWLINE = 0x0a;
const MINUS = 0x2d;
const STAR = 0x2a;
/**
 * Arguments (keys, values, members) from which a bulk write goes on a pipe of its own: a fold's
 * first write has ~200k, a rebuild's swap ~50k, a catch-up under the live runner's pause a few
 * dozen, for which a new connection is not worth its setup.
 */
export const PIPE_MIN_ARGS = 2000;

/** One bulk string of the protocol: `$<bytes>\r\n<text>\r\n`. */
export function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

/**
 * One command as protocol text, from its name and its arguments already written as bulk
 * strings (`args` of them in `text`): a caller that builds a long command in pieces says
 * its header once.
 */
export function commandText(name: string, args: number, text: string): string {
  return `*${args + 1}\r\n${bulk(name)}${text}`;
}

/** The connection settings a pipe can repeat from a client; undefined for what it does not speak (Sentinel, Cluster). */
function endpointOf(
  redis: Redis,
): { socket: () => Socket; connected: 'connect' | 'secureConnect'; auth: string[]; db: number } | undefined {
  const o = redis.options;
  if (!o || o.sentinels?.length || o.natMap) return undefined;
  const tls = o.tls as TlsOptions | undefined;
  const path = o.path;
  const auth = o.password ? (o.username ? [o.username, o.password] : [o.password]) : [];
  const db = o.db ?? 0;
  // ioredis's own defaults, when the client was made without them.
  const host = o.host ?? 'localhost';
  const port = o.port ?? 6379;
  if (path) return { socket: () => netConnect({ path }), connected: 'connect', auth, db };
  if (tls)
    return {
      socket: () => tlsConnect({ servername: host, ...tls, host, port }),
      connected: 'secureConnect',
      auth,
      db,
    };
  return { socket: () => netConnect({ host, port }), connected: 'connect', auth, db };
}

/**
 * A write-only pipe of Redis commands on a connection of its own, for bulk writes whose every
 * reply is one line (`+OK`, `:<n>`, or an error): MSET, ZADD, DEL, ZREM, SET, an EVAL that
 * returns a number; and MULTI/EXEC of those: EXEC's array (`*<n>`) is its header line and then
 * `n` one-line elements, any of which may be an error. The caller writes the protocol text
 * itself (`bulk`) and the pipe counts the replies, keeping the first error (a command refused
 * when queued, or one element of EXEC's array: the client's `exec()` fails on either as well).
 *
 * Why not the client: a fold's first write is ~200k arguments in ~1,300 commands, and ioredis
 * spends about a microsecond per argument on them (a Command object, the arguments flattened
 * and converted one by one, a byte length each, a promise and a reply callback per command):
 * about half of what writing the fold costs on the main thread. Here an argument is two
 * concatenations and a byte length.
 *
 * Replies are read as bytes: only line ends and a leading `-` matter. The connection is
 * authenticated and selects the client's database with the same settings as the client.
 */
export class RespPipe {
  private text = '';
  private sent = 0;
  private answered = 0;
  private atLineStart = true;
  /** The first error reply (its text up to the line end), or the connection's failure. */
  private failure: Error | undefined;
  /** The line being read, when its text matters: an error's, or an array header's. */
  private line: Buffer[] | undefined;
  private waiter: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('Redis connection of a bulk write closed before every reply came')));
  }

  /** A pipe to the server `redis` talks to, or undefined when its settings are not ones a pipe repeats. */
  static async open(redis: Redis): Promise<RespPipe | undefined> {
    const endpoint = endpointOf(redis);
    if (!endpoint) return undefined;
    const socket = endpoint.socket();
    socket.setNoDelay(true);
    // As long as the client waits for its own connection: a server that does not answer fails the write.
    const connectMs = redis.options.connectTimeout ?? 10_000;
    const timer = setTimeout(
      () => socket.destroy(new Error(`Redis did not accept a bulk write's connection within ${connectMs} ms`)),
      connectMs,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once(endpoint.connected, () => {
          socket.off('error', reject);
          resolve();
        });
        socket.once('error', reject);
      });
    } finally {
      clearTimeout(timer);
    }
    const pipe = new RespPipe(socket);
    // Answered before anything else: a refusal is the first error, and fails the write.
    if (endpoint.auth.length) void pipe.command('AUTH', endpoint.auth);
    if (endpoint.db) void pipe.command('SELECT', [String(endpoint.db)]);
    return pipe;
  }

  /** Queues a command given as its name and arguments (a promise as raw() returns one). */
  command(name: string, args: readonly string[]): Promise<void> | undefined {
    let text = '';
    for (const a of args) text += bulk(a);
    return this.raw(commandText(name, args.length, text), 1);
  }

  /**
   * Queues protocol text the caller built (`*<n>\r\n` then `n` bulk strings per command) holding
   * `commands` commands. Returns a promise only when the socket asked to wait (its buffer is
   * full): awaiting it keeps what is queued in memory bounded while Redis catches up.
   */
  raw(text: string, commands: number): Promise<void> | undefined {
    this.text += text;
    this.sent += commands;
    return this.text.length >= WRITE_BYTES ? this.write() : undefined;
  }

  /** Sends what is queued and waits for every reply; throws the first error reply or connection failure. */
  async finish(): Promise<void> {
    await this.write();
    if (this.answered < this.sent && !this.failure)
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    if (this.failure) throw this.failure;
  }

  /** False once a reply was an error or the connection failed: a pipe kept for later is not used then. */
  get usable(): boolean {
    return !this.failure && !this.closed;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private write(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    const text = this.text;
    this.text = '';
    if (text === '' || this.socket.write(text, 'utf8')) return undefined;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  private onData(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const end = chunk.indexOf(NEWLINE, i);
      if (this.atLineStart && (chunk[i] === STAR || (chunk[i] === MINUS && !this.failure))) this.line = [];
      if (end === -1) {
        this.line?.push(chunk.subarray(i));
        this.atLineStart = false;
        return;
      }
      if (this.line) {
        this.line.push(chunk.subarray(i, end));
        this.onLine(Buffer.concat(this.line).toString('utf8').replace(/\r$/, ''));
        this.line = undefined;
      }
      this.atLineStart = true;
      this.answered++;
      i = end + 1;
      if (this.answered >= this.sent) this.wake();
    }
  }

  /** An error line or an array header, without its line end. */
  private onLine(line: string): void {
    // `*<n>`: EXEC's n elements follow, one line each (`*-1`, an aborted EXEC, has none).
    if (line[0] === '*') this.sent += Math.max(0, Number(line.slice(1)));
    else this.failure ??= new Error(`Redis refused a bulk write: ${line.slice(1)}`);
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
