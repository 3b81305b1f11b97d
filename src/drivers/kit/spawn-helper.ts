import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnDetached } from './spawn-detached.js';
import { isHelperReady, isSpawnReply, type SpawnRequest } from './spawn-helper.protocol.js';

const CHILD_PATH = fileURLToPath(new URL('./spawn-helper.child.js', import.meta.url));
/** A helper that has not answered by then is taken for stuck: killed, and the request counts as lost. */
const REPLY_TIMEOUT_MS = 10_000;
/** A helper that died before it was ready is not started again sooner (each start is a fork of this process). */
const RESTART_BACKOFF_MS = 30_000;

/**
 * The helper died or stopped answering while a request was with it: the program may or may not
 * have been started. The caller decides (look for it, start it itself).
 */
export class SpawnHelperLostError extends Error {
  override readonly name = 'SpawnHelperLostError';
}

interface Pending {
  resolve: (pid: number) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Spawns detached programs (QEMU) from a small long-lived child process instead of this one.
 * `spawn()` forks the calling process; from a large Node process (the API with its caches,
 * hundreds of MB) the fork copies its page tables and the call blocks the event loop until the
 * child has exec'd. The helper is a second Node process with a tiny heap, started once (one
 * fork of this process, off any critical path) and spoken to over the IPC channel `fork()`
 * sets up: a socketpair only this process holds the other end of.
 *
 * Same guarantees as `spawnDetached`: argv only, no shell, own session and process group, output
 * to the log file, pid answered once the program has exec'd; the programs outlive both the
 * helper and this process. While the helper is starting, or after it died, the spawn is done
 * here (as before the helper), and a new helper is started for the next one.
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
        return;
      }
      if (!isSpawnReply(m)) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.settle(m.id);
      if ('pid' in m) p.resolve(m.pid);
      else p.reject(new Error(m.error));
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
  spawnDetached(binary: string, args: string[], logPath: string): Promise<number> {
    const child = this.child;
    if (!child || !this.ready || !child.connected) {
      this.warm();
      return Promise.resolve(spawnDetached(binary, args, logPath));
    }
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        this.lost(child, `did not answer within ${REPLY_TIMEOUT_MS} ms`);
      }, REPLY_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      child.channel?.ref(); // the answer is awaited: keep the process alive for it
      const request: SpawnRequest = { id, binary, args, logPath };
      child.send(request, (err) => {
        if (err) this.lost(child, `send failed: ${err.message}`);
      });
    });
  }

  /** Ends the helper (the programs it started keep running). */
  stop(): void {
    this.child?.kill('SIGTERM');
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
