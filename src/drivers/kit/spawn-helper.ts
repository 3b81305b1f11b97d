import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execTool, type ExecToolOptions, type ToolRun } from './exec-tool.js';
import { spawnDetached } from './spawn-detached.js';
import { isHelperReady, isHelperReply, type HelperReply, type HelperRequest } from './spawn-helper.protocol.js';

const CHILD_PATH = fileURLToPath(new URL('./spawn-helper.child.js', import.meta.url));
/** A helper that has not answered by then (beyond a run's own timeout) is taken for stuck: killed, the request lost. */
const REPLY_TIMEOUT_MS = 10_000;
/** A helper that died before it was ready is not started again sooner (each start is a fork of this process). */
const RESTART_BACKOFF_MS = 30_000;

/**
 * The helper died or stopped answering while a request was with it: the program may or may not
 * have been started. The caller decides (look for it, start it itself, fail).
 */
export class SpawnHelperLostError extends Error {
  override readonly name = 'SpawnHelperLostError';
}

interface Pending {
  resolve: (reply: HelperReply) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** A request without its id (the helper numbers them). */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type Request = WithoutId<HelperRequest>;

/**
 * Starts programs (QEMU, qemu-img) from a small long-lived child process instead of this one.
 * `spawn()` forks the calling process; from a large Node process (the API with its caches,
 * hundreds of MB) the fork copies its page tables and the call blocks the event loop until the
 * child has exec'd. The helper is a second Node process with a tiny heap, started once (one
 * fork of this process, off any critical path) and spoken to over the IPC channel `fork()`
 * sets up: a socketpair only this process holds the other end of.
 *
 * Same guarantees as starting them here: argv only, no shell; a detached program gets its own
 * session and process group and its output goes to its log file, its pid is answered once it
 * has exec'd, and it outlives both the helper and this process. While the helper is starting,
 * or after it died, the program is started here (as before the helper), and a new helper is
 * started for the next one.
 */
export class SpawnHelper {
  private child: ChildProcess | undefined;
  private ready = false;
  private nextId = 1;
  private noStartBefore = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly childPath = CHILD_PATH) {}

  /** The helper's pid once it answers requests (for tests and diagnostics). */
  get pid(): number | undefined {
    return this.ready ? this.child?.pid : undefined;
  }

  /** Starts the helper unless it runs; it does not keep this process alive. */
  warm(): void {
    if (this.child || Date.now() < this.noStartBefore) return;
    const child = fork(this.childPath, [], {
      // Not this process's flags (--cpu-prof, a big heap): the helper needs little.
      execArgv: ['--max-old-space-size=32'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    this.child = child;
    child.on('message', (m: unknown) => {
      if (child !== this.child) return;
      if (isHelperReady(m)) {
        this.ready = true;
      } else if (isHelperReply(m)) {
        const p = this.pending.get(m.id);
        this.settle(m.id);
        p?.resolve(m);
      }
    });
    child.on('error', () => this.lost(child, 'failed'));
    child.on('exit', () => this.lost(child, 'exited'));
    this.unrefIfIdle();
  }

  /**
   * Starts `binary` detached (see spawn-detached.ts) and answers its pid. Through the helper
   * when it is up, here otherwise. Rejects with SpawnHelperLostError when the helper went away
   * with the request: then the program may be running.
   */
  async spawnDetached(binary: string, args: string[], logPath: string): Promise<number> {
    const reply = this.request({ kind: 'detached', binary, args, logPath }, REPLY_TIMEOUT_MS);
    if (!reply) return spawnDetached(binary, args, logPath);
    const r = await reply;
    if ('pid' in r) return r.pid;
    throw new Error('error' in r ? r.error : `spawn helper: unexpected answer to a spawn of ${binary}`);
  }

  /**
   * Runs `file` to its end (see exec-tool.ts), through the helper when it is up, here
   * otherwise. Rejects with SpawnHelperLostError when the helper went away while it ran.
   */
  async run(file: string, args: string[], options: ExecToolOptions): Promise<ToolRun> {
    if (options.signal?.aborted) return execTool(file, args, options); // answers "aborted" at once
    let id = 0;
    const reply = this.request(
      { kind: 'run', file, args, timeoutMs: options.timeoutMs },
      options.timeoutMs + REPLY_TIMEOUT_MS,
      (n) => (id = n),
    );
    if (!reply) return execTool(file, args, options);
    const onAbort = (): void => {
      this.child?.send({ kind: 'abort', id } satisfies HelperRequest);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await reply;
      if ('stdout' in r) return { stdout: r.stdout, stderr: r.stderr, ...(r.failure ? { failure: r.failure } : {}) };
      throw new Error(`spawn helper: unexpected answer to a run of ${file}`);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Ends the helper (the detached programs it started keep running). */
  stop(): void {
    this.child?.kill('SIGTERM');
  }

  /** Sends `req` to the helper; undefined (nothing sent) when it is not up, and then it is started. */
  private request(req: Request, timeoutMs: number, onId?: (id: number) => void): Promise<HelperReply> | undefined {
    const child = this.child;
    if (!child || !this.ready || !child.connected) {
      this.warm();
      return undefined;
    }
    const id = this.nextId++;
    onId?.(id);
    return new Promise<HelperReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        this.lost(child, `did not answer within ${timeoutMs} ms`);
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      child.channel?.ref(); // the answer is awaited: keep the process alive for it
      child.send({ ...req, id } as HelperRequest, (err) => {
        if (err) this.lost(child, `could not be sent the request: ${err.message}`);
      });
    });
  }

  private lost(child: ChildProcess, why: string): void {
    if (child !== this.child) return;
    if (!this.ready) this.noStartBefore = Date.now() + RESTART_BACKOFF_MS;
    this.child = undefined;
    this.ready = false;
    for (const [id, p] of [...this.pending]) {
      this.settle(id);
      p.reject(new SpawnHelperLostError(`spawn helper (pid ${child.pid ?? '?'}) ${why} with the request`));
    }
  }

  private settle(id: number): void {
    const p = this.pending.get(id);
    if (p) clearTimeout(p.timer);
    this.pending.delete(id);
    this.unrefIfIdle();
  }

  private unrefIfIdle(): void {
    if (this.pending.size > 0 || !this.child) return;
    this.child.unref();
    this.child.channel?.unref();
  }
}

let shared: SpawnHelper | undefined;

/** The process's one spawn helper (drivers share it; it is started on first use or `warm()`). */
export function spawnHelper(): SpawnHelper {
  shared ??= new SpawnHelper();
  return shared;
}
