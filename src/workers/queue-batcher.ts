import type { JobsOptions, Queue } from 'bullmq';

interface PendingAdd {
  name: string;
  data: unknown;
  opts: JobsOptions;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Adds to one queue that arrive in the same turn of the event loop reach Redis together: one
 * pipeline (`addBulk`) instead of a round trip each. Under load a worker finishes many jobs in one
 * turn (their driver calls complete in the same I/O poll) and each posts its result; each add was
 * its own socket write and reply. Each job keeps its own id and options, so the Redis commands and
 * what is on the queue are the same as with one add at a time, in the same order. A caller's promise
 * settles once its job is on the queue, as `Queue.add` would.
 */
export class QueueBatcher {
  private pending: PendingAdd[] = [];

  constructor(private readonly queue: Queue) {}

  add(name: string, data: unknown, opts: JobsOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ name, data, opts, resolve, reject });
      // After this turn's I/O callbacks have run: the adds they make go in the same pipeline.
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  /**
   * Sends what is pending now instead of at the end of the turn; resolves once it is on the queue
   * or refused (close() awaits it before the connection's QUIT).
   */
  flush(): Promise<void> {
    const batch = this.pending;
    if (!batch.length) return Promise.resolve();
    this.pending = [];
    return this.send(batch);
  }

  private async send(batch: PendingAdd[]): Promise<void> {
    if (batch.length > 1) {
      try {
        await this.queue.addBulk(batch.map(({ name, data, opts }) => ({ name, data, opts })));
        for (const p of batch) p.resolve();
        return;
      } catch {
        // One add refused must not fail the others: each again on its own (an add is idempotent by its
        // job id), so every caller gets its own answer.
      }
    }
    await Promise.all(batch.map((p) => this.queue.add(p.name, p.data, p.opts).then(() => p.resolve(), p.reject)));
  }
}
