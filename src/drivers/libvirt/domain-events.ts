import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { VIRSH } from './virsh.js';

export interface LifecycleEvent {
  domain: string;
  /** libvirt's event and detail, e.g. "Stopped Destroyed", "Stopped Failed", "Suspended Paused". */
  what: string;
}

const LINE = /^event 'lifecycle' for domain '(.+)': (.+)$/;

export function parseEventLine(line: string): LifecycleEvent | undefined {
  const m = LINE.exec(line.trim());
  return m ? { domain: m[1]!, what: m[2]! } : undefined;
}

export interface EventStreamOptions {
  /** First and longest wait before re-running virsh after it exits (daemon restart, network). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (message: string) => void;
  /** The virsh binary (default `virsh`, or $VL_VIRSH). */
  binary?: string;
}

/**
 * `virsh event --event lifecycle --loop` as a long-lived child: one line per domain lifecycle
 * change, whoever caused it. virsh exits when libvirtd goes away; it is started again with a
 * growing backoff, so a daemon restart costs events only while the daemon is down (the periodic
 * reconcile sweep covers that gap).
 */
export class DomainEventStream {
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private backoffMs: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;

  constructor(
    private readonly uri: string,
    private readonly onEvent: (e: LifecycleEvent) => void,
    private readonly options: EventStreamOptions = {},
  ) {
    this.minBackoffMs = options.minBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.backoffMs = this.minBackoffMs;
    this.spawn();
  }

  /** Ends the stream and its child; never touches a domain. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.child?.kill('SIGTERM');
    this.child = undefined;
  }

  /** The pid of the running virsh, for tests and diagnostics. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawn(): void {
    if (this.stopped) return;
    const child = spawn(
      this.options.binary ?? VIRSH,
      ['-q', '-c', this.uri, 'event', '--event', 'lifecycle', '--loop'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
      },
    );
    this.child = child;
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = parseEventLine(line);
      if (!event) return;
      this.backoffMs = this.minBackoffMs; // a working stream resets the backoff
      this.onEvent(event);
    });
    child.on('error', (err) => this.options.onError?.(`virsh event on ${this.uri}: ${err.message}`));
    child.on('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopped) return;
      this.options.onError?.(
        `virsh event on ${this.uri} exited (${signal ?? code}): ${stderr.trim() || 'no message'}; again in ${this.backoffMs} ms`,
      );
      this.timer = setTimeout(() => this.spawn(), this.backoffMs);
      this.timer.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs);
    });
  }
}
