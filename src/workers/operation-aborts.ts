import type { Redis } from 'ioredis';
import { RESULTS_QUEUE } from '../application/jobs.js';
import type { QueueHub } from './queue-hub.js';

/** How long a cancel is remembered for a job not yet taken (a queued job is checked before it runs). */
const REMEMBER_S = 24 * 3600;

/**
 * Cancels travel from the API to whichever worker runs the operation's job: a mark in Redis
 * (so a job still queued is skipped when a worker takes it) and a pub/sub message (so a driver
 * call in flight is aborted at once). Every worker listens; only the one running the job acts.
 */
export class OperationAborts {
  private subscriber: Redis | undefined;

  constructor(private readonly hub: QueueHub) {}

  private get channel(): string {
    return `${this.hub.settings.prefix}:aborts`;
  }

  private key(operationId: string): string {
    return `${this.hub.settings.prefix}:aborted:${operationId}`;
  }

  private async client(): Promise<Redis> {
    return (await this.hub.queue(RESULTS_QUEUE).backend.client) as unknown as Redis;
  }

  /** Mark then announce: a worker that missed the message (not subscribed yet) still sees the mark. */
  async abort(operationId: string): Promise<void> {
    const c = await this.client();
    await c.set(this.key(operationId), '1', 'EX', REMEMBER_S);
    await c.publish(this.channel, operationId);
  }

  async isAborted(operationId: string): Promise<boolean> {
    return (await (await this.client()).exists(this.key(operationId))) === 1;
  }

  /** Resolves once subscribed: a cancel published after that reaches onAbort. */
  async listen(onAbort: (operationId: string) => void): Promise<void> {
    // Its own connection (a subscribed one can do nothing else), queuing the SUBSCRIBE until it is connected.
    const sub = (await this.client()).duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber = sub;
    sub.on('message', (_channel: string, operationId: string) => onAbort(operationId));
    await sub.subscribe(this.channel);
  }

  async close(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }
}
