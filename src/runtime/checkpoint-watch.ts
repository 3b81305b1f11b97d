import type { Redis } from 'ioredis';
import type { ReadModelKeys } from '../projections/read-model.keys.js';

interface Waiter {
  names: string[];
  /** Resolved once every named checkpoint is at or past this position. */
  position: bigint;
  deadline: number;
  resolve(ok: boolean): void;
}

/** How often the checkpoints are read while somebody waits (nobody waiting: no reads at all). */
const POLL_MS = 5;

/**
 * Read-your-writes on a process that does not run the projections (a standby
 * API process): the owner writes each read model's checkpoint in the same MULTI
 * as its data, so a checkpoint at or past a command's position means the read
 * model shows it, whichever process applied it. One loop reads every watched
 * checkpoint in one MGET for all the waiters of the process, and only while
 * there are waiters.
 */
export class CheckpointWatch {
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private readonly last = new Map<string, bigint | undefined>();
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: ReadModelKeys,
    private readonly names: string[],
  ) {}

  /** The last checkpoint read for `name` (for /health lag on a standby). */
  position(name: string): bigint | undefined {
    return this.last.get(name);
  }

  waitFor(position: bigint, timeoutMs: number, names: string[] = this.names): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.reached(names, position)) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.waiters.add({ names, position, deadline: Date.now() + timeoutMs, resolve });
      this.schedule(0);
    });
  }

  /** Resolves when `name`'s checkpoint moves past where it is now (any event applied), or after timeoutMs. */
  async nextApplied(name: string, timeoutMs: number): Promise<void> {
    await this.refresh();
    const now = this.last.get(name);
    await this.waitFor(now === undefined ? 1n : now + 1n, timeoutMs, [name]);
  }

  /** Reads the checkpoints once (also used by /health on a standby). */
  async refresh(): Promise<void> {
    const raw = await this.redis.mget(...this.names.map((n) => this.keys.checkpoint(n)));
    this.names.forEach((n, i) => {
      const v = raw[i];
      this.last.set(n, v ? BigInt(v) : undefined);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of this.waiters) w.resolve(false);
    this.waiters.clear();
  }

  private reached(names: string[], position: bigint): boolean {
    return names.every((n) => {
      const p = this.last.get(n);
      return p !== undefined && p >= position;
    });
  }

  private schedule(ms: number): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, ms);
  }

  private async poll(): Promise<void> {
    try {
      await this.refresh();
    } catch {
      // Redis down: the waiters time out on their own deadlines.
    }
    const now = Date.now();
    for (const w of this.waiters) {
      const ok = this.reached(w.names, w.position);
      if (ok || now >= w.deadline) {
        this.waiters.delete(w);
        w.resolve(ok);
      }
    }
    if (this.waiters.size) this.schedule(POLL_MS);
  }
}
