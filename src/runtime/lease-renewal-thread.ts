import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { RedisEndpoint } from './redis-connection.js';
import { SLOT, SLOTS, type RenewalInit, type RenewalRequest } from './lease-renewal.shared.js';

const WORKER_URL = new URL('./lease-renewal.worker.js', import.meta.url);

/**
 * The main thread's handle on the lease renewal thread (lease-renewal.worker.ts): tells it
 * which tenure to renew, and reads from shared memory, without waiting for either loop,
 * how long its renewals let the owner trust the lease. A thread that dies renews nothing:
 * the trust runs out and the owner lets go; the next tenure starts a new thread.
 */
export class LeaseRenewalThread {
  private worker: Worker | undefined;
  private readonly init: RenewalInit;
  private readonly slots: BigInt64Array;

  constructor(
    endpoint: RedisEndpoint,
    key: string,
    ttlMs: number,
    maxStallMs: number,
    private readonly log: Logger,
  ) {
    const shared = new SharedArrayBuffer(SLOTS * BigInt64Array.BYTES_PER_ELEMENT);
    this.slots = new BigInt64Array(shared);
    this.init = { endpoint, key, ttlMs, maxStallMs, shared };
  }

  /** Loads the thread ahead of the first tenure (a worker takes a while to start on a busy machine). */
  start(): void {
    if (!this.worker) this.spawn();
  }

  /** The main thread is alive (its loop turned): the thread may keep renewing. */
  beat(): void {
    Atomics.store(this.slots, SLOT.HEARTBEAT, BigInt(Date.now()));
  }

  /** Renew tenure `token` (its key value `value`) from now on. */
  renew(token: number, value: string): void {
    this.beat();
    this.post({ type: 'renew', token, value });
  }

  stopRenewing(): void {
    this.worker?.postMessage({ type: 'stop' } satisfies RenewalRequest);
  }

  /** Local ms deadline until which the thread's answered renewals let tenure `token` trust the lease (0: none yet). */
  trustFor(token: number): number {
    if (Atomics.load(this.slots, SLOT.TOKEN) !== BigInt(token)) return 0;
    return Number(Atomics.load(this.slots, SLOT.TRUST));
  }

  /** Redis refused a renewal of tenure `token`: another process holds the key. */
  refused(token: number): boolean {
    return Atomics.load(this.slots, SLOT.REFUSED) === BigInt(token);
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private post(request: RenewalRequest): void {
    (this.worker ?? this.spawn()).postMessage(request);
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_URL, { workerData: this.init, name: 'lease-renewal' });
    this.worker = worker;
    // The thread never keeps the process alive: shutting down is the main thread's decision.
    worker.unref();
    worker.on('error', (err) =>
      this.log.error({ err }, 'lease renewal thread crashed; the lease lapses unless renewed'),
    );
    worker.once('exit', () => {
      if (this.worker === worker) this.worker = undefined;
    });
    return worker;
  }
}
