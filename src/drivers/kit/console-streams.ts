import { closeSync, constants, fstatSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { ReadStream as TtyReadStream } from 'node:tty';
import { writeSync } from 'node:fs';
import type { ConsoleStream } from '../hypervisor-driver.port.js';

/**
 * The console streams drivers hand out, over what each hypervisor offers: a unix socket
 * (QEMU's chardev), a pty (libvirt's `<serial type='pty'>`), a FIFO in and a log file out
 * (a container's stdio). Listener bookkeeping is shared; each kind only moves bytes.
 */
abstract class BaseConsole implements ConsoleStream {
  private readonly dataListeners: ((chunk: Buffer) => void)[] = [];
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private closedWith: string | undefined;

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  onClose(listener: (reason: string) => void): void {
    if (this.closedWith !== undefined) listener(this.closedWith);
    else this.closeListeners.push(listener);
  }

  protected emitData(chunk: Buffer): void {
    if (this.closedWith !== undefined || chunk.length === 0) return;
    for (const l of this.dataListeners) l(chunk);
  }

  protected emitClose(reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    for (const l of this.closeListeners.splice(0)) l(reason);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  abstract write(data: Buffer): void;
  abstract close(): void;
}

/** QEMU's `-chardev socket,server=on`: one client at a time, so a host keeps one per VM and shares it. */
class SocketConsole extends BaseConsole {
  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (chunk: Buffer) => this.emitData(chunk));
    socket.on('error', (err) => this.emitClose(`console socket error: ${err.message}`));
    socket.on('close', () => this.emitClose('the console socket closed (the VM stopped?)'));
  }

  write(data: Buffer): void {
    if (!this.closed) this.socket.write(data);
  }

  close(): void {
    this.emitClose('detached');
    this.socket.destroy();
  }
}

export function connectSocketConsole(path: string, timeoutMs = 5_000): Promise<ConsoleStream> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`console socket ${path} did not accept within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(new SocketConsole(socket));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * A pty slave whose master QEMU holds (libvirt's serial pty; QEMU puts it in raw mode). Read
 * through a tty handle, which libuv polls: a plain file stream would park a threadpool thread in
 * read() for as long as the console stays open.
 */
class PtyConsole extends BaseConsole {
  private readonly reader: TtyReadStream;

  constructor(
    private readonly readFd: number,
    private readonly writeFd: number,
  ) {
    super();
    this.reader = new TtyReadStream(readFd);
    this.reader.on('data', (chunk: Buffer | string) => this.emitData(Buffer.from(chunk)));
    this.reader.on('error', (err) => this.emitClose(`console pty error: ${err.message}`));
    this.reader.on('close', () => this.emitClose('the console pty closed (the VM stopped?)'));
  }

  write(data: Buffer): void {
    if (this.closed) return;
    try {
      writeSync(this.writeFd, data);
    } catch (err) {
      this.emitClose(`console pty write failed: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.emitClose('detached');
    this.reader.destroy();
    try {
      closeSync(this.writeFd);
    } catch {
      // already closed
    }
  }
}

export function openPtyConsole(path: string): ConsoleStream {
  // O_NOCTTY: the worker must never get the guest's console as its controlling terminal.
  const flags = constants.O_RDWR | constants.O_NOCTTY;
  const readFd = openSync(path, flags);
  try {
    return new PtyConsole(readFd, openSync(path, flags));
  } catch (err) {
    closeSync(readFd);
    throw err;
  }
}

/**
 * A container's stdio: keystrokes into a FIFO its init reads as stdin, output read from the log
 * file its stdout and stderr go to (followed from the end, woken by inotify and a slow poll).
 */
class FifoLogConsole extends BaseConsole {
  private offset: number;
  private readonly logFd: number;
  private watcher: FSWatcher | undefined;
  private readonly poll: NodeJS.Timeout;

  constructor(
    private readonly fifoFd: number,
    logPath: string,
  ) {
    super();
    this.logFd = openSync(logPath, 'r');
    this.offset = fstatSync(this.logFd).size;
    try {
      this.watcher = watch(logPath, () => this.drain());
      this.watcher.on('error', () => undefined);
    } catch {
      this.watcher = undefined;
    }
    this.poll = setInterval(() => this.drain(), 250);
    this.poll.unref();
  }

  private drain(): void {
    if (this.closed) return;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = readSync(this.logFd, buf, 0, buf.length, this.offset);
      } catch (err) {
        this.emitClose(`console log unreadable: ${(err as Error).message}`);
        return;
      }
      if (n <= 0) return;
      this.offset += n;
      this.emitData(Buffer.from(buf.subarray(0, n)));
    }
  }

  write(data: Buffer): void {
    if (this.closed) return;
    try {
      writeSync(this.fifoFd, data);
    } catch (err) {
      // EAGAIN: the init does not read its stdin and the pipe is full; EPIPE: nobody reads it any more.
      this.emitClose(`the container does not take input: ${(err as Error).message}`);
    }
  }

  close(): void {
    this.emitClose('detached');
    clearInterval(this.poll);
    this.watcher?.close();
    for (const fd of [this.fifoFd, this.logFd]) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

export function openFifoLogConsole(fifoPath: string, logPath: string): ConsoleStream {
  // Non-blocking: an open for writing with no reader fails (ENXIO) instead of hanging the worker.
  const fd = openSync(fifoPath, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    return new FifoLogConsole(fd, logPath);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The last `maxBytes` of a log file (empty when there is none yet); never reads more than that. */
export async function fileTail(path: string, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, Math.max(0, maxBytes));
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, size - length);
    return buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
