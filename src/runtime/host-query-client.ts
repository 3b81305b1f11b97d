import { QueueEvents, type ConnectionOptions } from 'bullmq';
import {
  HostDidNotAnswer,
  hostQueryQueueName,
  type HostQueries,
  type HostQuery,
  type HostQueryReply,
} from '../application/host-queries.js';
import type { Logger } from 'pino';
import type { QueueHub } from '../workers/queue-hub.js';

/**
 * The asking side of host queries over BullMQ: a job on the host's query queue,
 * its worker's return value as the reply. A question nobody took by the
 * deadline is removed, so a worker starting later does not answer the void.
 */
export class QueueHostQueries implements HostQueries {
  private readonly listeners = new Map<string, QueueEvents>();

  constructor(
    private readonly hub: QueueHub,
    private readonly settings: { connection: ConnectionOptions; prefix: string },
    private readonly log: Logger,
  ) {}

  async ask(hostId: string, query: HostQuery['query'], timeoutMs: number): Promise<HostQueryReply> {
    const name = hostQueryQueueName(hostId);
    const events = this.listenerOf(name);
    const data: HostQuery = { query, deadline: Date.now() + timeoutMs };
    const job = await this.hub.queue(name).add(query, data, {
      attempts: 1,
      removeOnComplete: { age: 60 },
      removeOnFail: { age: 60 },
    });
    try {
      return (await job.waitUntilFinished(events, timeoutMs)) as HostQueryReply;
    } catch (err) {
      // The reply may have landed just as the wait ran out: take it rather than say nobody answered.
      const late = await this.hub.queue(name).getJob(job.id ?? '');
      if (late && (await late.isCompleted())) return late.returnvalue as HostQueryReply;
      if (late && (await late.isFailed())) throw err;
      await late?.remove().catch(() => undefined);
      throw new HostDidNotAnswer(hostId, timeoutMs);
    }
  }

  private listenerOf(name: string): QueueEvents {
    let events = this.listeners.get(name);
    if (!events) {
      events = new QueueEvents(name, { connection: this.settings.connection, prefix: this.settings.prefix });
      events.on('error', (err) => this.log.debug({ err: err.message, queue: name }, 'host query events'));
      this.listeners.set(name, events);
    }
    return events;
  }

  async close(): Promise<void> {
    await Promise.all([...this.listeners.values()].map((e) => e.close().catch(() => undefined)));
    this.listeners.clear();
  }
}
