import { createConnection, type Socket } from 'node:net';
import type { QmpErrorBody, QmpEvent, QmpGreeting } from './qmp.types.js';

/** QEMU answered a command with `{"error": …}` (or an HMP command printed `Error: …`). */
export class QmpError extends Error {
  override readonly name = 'QmpError';
  constructor(
    /** QMP error class, e.g. GenericError, CommandNotFound, DeviceNotFound; `HmpError` for HMP text errors. */
    readonly errorClass: string,
    /** QEMU's own message, verbatim. */
    readonly desc: string,
    readonly command: string,
  ) {
    super(`${command}: ${desc}`);
  }
}

/** A job (`snapshot-save`, …) concluded with an error that only `query-jobs` reports. */
export class QmpJobError extends QmpError {
  constructor(
    readonly jobId: string,
    command: string,
    desc: string,
  ) {
    super('JobError', desc, command);
  }
}

export class QmpTimeoutError extends Error {
  override readonly name = 'QmpTimeoutError';
}

/** The connection ended (QEMU exited, the socket closed) while something still waited on it. */
export class QmpClosedError extends Error {
  override readonly name = 'QmpClosedError';
}

/** QEMU sent something that is not QMP; the stream cannot be trusted after that, so the client closes. */
export class QmpProtocolError extends Error {
  override readonly name = 'QmpProtocolError';
}

export interface QmpConnectOptions {
  /** How long to keep retrying while the socket is missing/refusing and to wait for the greeting. */
  connectTimeoutMs?: number;
  /**
   * Once connected, wait for the greeting (and `qmp_capabilities`) this long at least: a QEMU
   * still starting accepts the connection before its main loop greets, and a QEMU that dies
   * meanwhile closes the socket, which ends the wait at once. Default: connectTimeoutMs.
   */
  greetingTimeoutMs?: number;
  /** Default bound of every command; `execute` can override it per call. */
  commandTimeoutMs?: number;
}

export interface QmpCommandOptions {
  timeoutMs?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

type EventListener = (event: QmpEvent) => void;

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
const RETRY_MS = 20;
const REFUSED_RETRY_MS = 1; // see connectRetryMs
/** Events kept for `recentEvents`: enough for the few QEMU sends around one operation. */
const RECENT_EVENTS = 16;

/**
 * A small QMP client over a unix socket. Commands carry an `id` so replies are matched even
 * when several are in flight; asynchronous events go to listeners and to `waitForEvent`.
 */
export class QmpClient {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<EventListener>();
  private readonly closeListeners = new Set<(err: Error) => void>();
  private closedWith: Error | undefined;
  private readonly recent: QmpEvent[] = [];

  private constructor(
    private readonly socket: Socket,
    readonly greeting: QmpGreeting,
    private readonly commandTimeoutMs: number,
    leftover: string,
  ) {
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(new QmpClosedError(`QMP socket error: ${err.message}`)));
    socket.on('close', () => this.shutdown(new QmpClosedError('QMP connection closed')));
    if (leftover) this.onData(leftover);
    socket.resume();
  }

  /**
   * Connects, reads the greeting and asks to leave capabilities negotiation mode
   * (`qmp_capabilities`) without waiting for its answer: QEMU handles one connection's requests
   * in order, so a command sent right after runs once negotiation is over, and the first command
   * costs one round trip instead of two (each round trip waits for QEMU's main loop, which is
   * late on a loaded host). If negotiation fails the client closes with that reason and every
   * command sent meanwhile fails with it (QEMU refuses everything but `qmp_capabilities` before).
   */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const start = Date.now();
    const deadline = start + connectTimeoutMs;
    const greetingDeadline = Math.max(deadline, start + (options.greetingTimeoutMs ?? 0));
    const { socket, greeting, leftover } = await openWithGreeting(path, deadline, greetingDeadline);
    const client = new QmpClient(socket, greeting, options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, leftover);
    client
      .execute('qmp_capabilities', undefined, { timeoutMs: Math.max(1_000, greetingDeadline - Date.now()) })
      .catch((err: unknown) => {
        if (client.closed) return; // closed by its user meanwhile: nothing more to say
        // A negotiation QEMU never answered stays a timeout for the commands behind it.
        client.fail(
          err instanceof QmpTimeoutError
            ? err
            : new QmpClosedError(`QMP capabilities negotiation failed: ${errorText(err)}`),
        );
      });
    return client;
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** The last RECENT_EVENTS events received, oldest first: on a connection opened before a change, what QEMU said of it. */
  get recentEvents(): readonly QmpEvent[] {
    return this.recent;
  }

  /** Whether the open connection keeps Node running (it does by default); an idle pooled one need not. */
  keepProcessAlive(on: boolean): void {
    if (on) this.socket.ref();
    else this.socket.unref();
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: QmpCommandOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(new QmpClosedError(`${command}: ${this.closedWith.message}`));
    const id = String(this.nextId++);
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(`${command}: no reply from QEMU within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: (v) => resolve(v as T), reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /**
   * Runs an HMP command line. HMP reports most failures as text inside a successful QMP
   * `return` (e.g. "Error: no block device can store vmstate for snapshot"), so that text
   * is turned into a QmpError here.
   */
  async hmp(commandLine: string, options: QmpCommandOptions = {}): Promise<string> {
    const output = await this.execute<string>('human-monitor-command', { 'command-line': commandLine }, options);
    const text = typeof output === 'string' ? output : '';
    const errorLine = text.split(/\r?\n/).find((line) => line.startsWith('Error: '));
    if (errorLine !== undefined) {
      throw new QmpError('HmpError', errorLine.slice('Error: '.length).trim(), `human-monitor-command ${commandLine}`);
    }
    return text;
  }

  /** Subscribes to every asynchronous event; returns the unsubscribe function. */
  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called once when the connection ends, with the reason. */
  onClose(listener: (err: Error) => void): () => void {
    if (this.closedWith) {
      const reason = this.closedWith;
      queueMicrotask(() => listener(reason));
    } else {
      this.closeListeners.add(listener);
    }
    return () => this.closeListeners.delete(listener);
  }

  /**
   * Resolves with the first event named `name` that satisfies `predicate`. Create the waiter
   * before issuing the command that triggers the event, or it can be missed.
   */
  waitForEvent(
    name: string,
    predicate: (event: QmpEvent) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<QmpEvent> {
    return new Promise<QmpEvent>((resolve, reject) => {
      const finish = (err: Error | undefined, event?: QmpEvent): void => {
        clearTimeout(timer);
        unsubscribe();
        unsubscribeClose();
        if (err) reject(err);
        else if (event) resolve(event);
      };
      const timer = setTimeout(
        () => finish(new QmpTimeoutError(`event ${name} not received within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const unsubscribe = this.onEvent((event) => {
        if (event.event === name && predicate(event)) finish(undefined, event);
      });
      const unsubscribeClose = this.onClose((err) => finish(new QmpClosedError(`waiting for ${name}: ${err.message}`)));
    });
  }

  /** Closes the connection; pending commands fail with QmpClosedError. Never stops QEMU. */
  close(): void {
    this.shutdown(new QmpClosedError('QMP client closed'));
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline = this.buffer.indexOf('\n');
    while (newline >= 0 && !this.closedWith) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.onLine(line);
      newline = this.buffer.indexOf('\n');
    }
  }

  private onLine(line: string): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.fail(new QmpProtocolError(`QEMU sent a line that is not JSON: ${line.slice(0, 200)}`));
      return;
    }
    if (!isObject(message)) {
      this.fail(new QmpProtocolError(`QEMU sent a JSON value that is not an object: ${line.slice(0, 200)}`));
      return;
    }
    if (typeof message.event === 'string') {
      const event = message as unknown as QmpEvent;
      this.recent.push(event);
      if (this.recent.length > RECENT_EVENTS) this.recent.shift();
      for (const listener of [...this.listeners]) listener(event);
      return;
    }
    if ('return' in message || 'error' in message) {
      this.onReply(message);
      return;
    }
    this.fail(new QmpProtocolError(`unexpected QMP message: ${line.slice(0, 200)}`));
  }

  private onReply(message: Record<string, unknown>): void {
    // QEMU answers a request it could not parse without an id; QMP handles requests in
    // order, so that reply belongs to the oldest one still waiting.
    const id = typeof message.id === 'string' ? message.id : this.pending.keys().next().value;
    if (id === undefined) return;
    const waiter = this.pending.get(id);
    if (!waiter) return; // a reply that arrived after its command timed out
    this.pending.delete(id);
    clearTimeout(waiter.timer);
    if ('error' in message) {
      const body = isObject(message.error) ? (message.error as Partial<QmpErrorBody>) : {};
      waiter.reject(
        new QmpError(String(body.class ?? 'GenericError'), String(body.desc ?? 'unknown error'), waiter.command),
      );
    } else {
      waiter.resolve(message.return);
    }
  }

  private fail(err: Error): void {
    this.shutdown(err);
    this.socket.destroy();
  }

  private shutdown(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      this.pending.delete(id);
      waiter.reject(
        err instanceof QmpProtocolError || err instanceof QmpTimeoutError
          ? err
          : new QmpClosedError(`${waiter.command}: ${err.message}`),
      );
    }
    for (const listener of [...this.closeListeners]) listener(err);
    this.closeListeners.clear();
    this.listeners.clear();
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Opened {
  socket: Socket;
  greeting: QmpGreeting;
  leftover: string;
}

/**
 * The wait before the next connect: RETRY_MS for a missing socket. One that refuses is most often
 * bound by QEMU, not yet listened on (waitForQmp connects as it appears): 1 ms, doubling up to
 * RETRY_MS (a stale one refuses for good). A flat 20 ms cost most migration targets 20 ms.
 */
export function connectRetryMs(why: 'missing' | 'refused', refusalsBefore: number): number {
  return why === 'missing' ? RETRY_MS : Math.min(RETRY_MS, REFUSED_RETRY_MS * 2 ** refusalsBefore);
}

/** Retries while QEMU has not created/opened its socket yet; QEMU starts in ~0.1 s. */
async function openWithGreeting(path: string, deadline: number, greetingDeadline = deadline): Promise<Opened> {
  let lastError: Error | undefined;
  let refusals = 0;
  while (Date.now() < deadline) {
    try {
      return await attempt(path, Math.max(deadline, greetingDeadline));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED' && code !== 'EAGAIN') throw err;
      lastError = err as Error;
      const wait = connectRetryMs(code === 'ENOENT' ? 'missing' : 'refused', code === 'ENOENT' ? 0 : refusals++);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
  throw new QmpTimeoutError(`QMP socket ${path} not ready: ${lastError?.message ?? 'timed out'}`);
}

function attempt(path: string, deadline: number): Promise<Opened> {
  return new Promise<Opened>((resolve, reject) => {
    const socket = createConnection({ path });
    socket.setEncoding('utf8');
    let buffer = '';
    const timer = setTimeout(
      () => {
        cleanup();
        socket.destroy();
        // QEMU serves one QMP client at a time: a silent socket usually means another one is attached.
        reject(new QmpTimeoutError(`no QMP greeting on ${path} (is another client connected?)`));
      },
      Math.max(1, deadline - Date.now()),
    );
    const onError = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new QmpClosedError(`QMP socket ${path} closed before the greeting`));
    };
    const onData = (chunk: string): void => {
      buffer += chunk;
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      cleanup();
      const line = buffer.slice(0, newline).trim();
      let greeting: unknown;
      try {
        greeting = JSON.parse(line);
      } catch {
        socket.destroy();
        reject(new QmpProtocolError(`not a QMP greeting: ${line.slice(0, 200)}`));
        return;
      }
      if (!isObject(greeting) || !isObject(greeting.QMP)) {
        socket.destroy();
        reject(new QmpProtocolError(`not a QMP greeting: ${line.slice(0, 200)}`));
        return;
      }
      // Paused until the client attaches its own reader, so no event is dropped in between.
      socket.pause();
      resolve({ socket, greeting: greeting as unknown as QmpGreeting, leftover: buffer.slice(newline + 1) });
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off('data', onData);
    };
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('data', onData);
  });
}
