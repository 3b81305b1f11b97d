import { QueueEvents, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { randomBytes } from 'node:crypto';
import {
  consoleQueueName,
  ConsoleRefused,
  type ConsoleHosts,
  type ConsoleLink,
  type ConsoleOpenRequest,
} from '../application/console-sessions.js';
import { HostDidNotAnswer } from '../application/host-queries.js';
import type { VmJobSpec } from '../domain/vm/vm.types.js';
import type { QueueHub } from '../workers/queue-hub.js';
import {
  FRAME,
  PING_EVERY_MS,
  SILENCE_LIMIT_MS,
  consoleChannels,
  frame,
  type ConsoleChannels,
  type ConsoleJob,
  type ConsoleReply,
} from '../workers/console-wire.js';

/** The channels of one deployment (its Redis prefix), shared by the API and the workers. */
export function deploymentConsoleChannels(prefix: string): ConsoleChannels {
  return consoleChannels(prefix);
}

/**
 * The API's side of the console wire (workers/console-wire.ts explains the choice): requests
 * as jobs on the host's console queue, a session's bytes over one subscriber connection shared
 * by every session of this process, tickets as one-use Redis keys.
 */
export class QueueConsoleHosts implements ConsoleHosts {
  private readonly listeners = new Map<string, QueueEvents>();
  private subscriber: Redis | undefined;
  private readonly links = new Map<string, RelayLink>();

  constructor(
    private readonly hub: QueueHub,
    private readonly redis: Redis,
    private readonly settings: { connection: ConnectionOptions; prefix: string; channels: ConsoleChannels },
    private readonly logger: Logger,
  ) {}

  async open(req: ConsoleOpenRequest, timeoutMs: number): Promise<ConsoleLink> {
    const sub = await this.subscribed();
    const out = this.settings.channels.output(req.sessionId);
    // Listening before asking: what the worker sends right after it answers is not lost.
    const link = new RelayLink(req.sessionId, this.redis, this.settings.channels, () => {
      this.links.delete(req.sessionId);
      void sub.unsubscribe(out).catch(() => undefined);
    });
    this.links.set(req.sessionId, link);
    await sub.subscribe(out);
    try {
      const reply = await this.ask(
        req.hostId,
        {
          kind: 'open',
          sessionId: req.sessionId,
          spec: req.spec,
          readOnly: req.readOnly,
          scrollbackBytes: req.scrollbackBytes,
          deadline: Date.now() + timeoutMs,
        },
        timeoutMs,
      );
      link.ready(Buffer.from(reply, 'base64'));
      return link;
    } catch (err) {
      link.abandon();
      throw err;
    }
  }

  /** Sessions this process relays now (the console gauge of /metrics). */
  get openSessions(): number {
    return this.links.size;
  }

  async log(hostId: string, spec: VmJobSpec, maxBytes: number, timeoutMs: number): Promise<Buffer> {
    const reply = await this.ask(hostId, { kind: 'log', spec, maxBytes, deadline: Date.now() + timeoutMs }, timeoutMs);
    return Buffer.from(reply, 'base64');
  }

  async issueTicket(payload: string, ttlMs: number): Promise<string> {
    const ticket = randomBytes(24).toString('base64url');
    await this.redis.set(this.ticketKey(ticket), payload, 'PX', ttlMs);
    return ticket;
  }

  async redeemTicket(ticket: string): Promise<string | undefined> {
    if (!/^[A-Za-z0-9_-]{32}$/.test(ticket)) return undefined;
    // GETDEL: one use, even when two API processes race for it.
    return (await this.redis.getdel(this.ticketKey(ticket))) ?? undefined;
  }

  async close(): Promise<void> {
    for (const link of [...this.links.values()]) link.close('the API is stopping');
    await Promise.all([...this.listeners.values()].map((e) => e.close().catch(() => undefined)));
    this.listeners.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  private ticketKey(ticket: string): string {
    return `${this.settings.prefix}:console-ticket:${ticket}`;
  }

  private async subscribed(): Promise<Redis> {
    if (!this.subscriber) {
      const sub = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      sub.on('messageBuffer', (channel: Buffer, msg: Buffer) => {
        const id = /:console:([^:]+):out$/.exec(channel.toString())?.[1];
        if (id) this.links.get(id)?.receive(msg);
      });
      sub.on('error', (err) => this.logger.debug({ err: err.message }, 'console subscriber'));
      this.subscriber = sub;
    }
    return this.subscriber;
  }

  /** One request/reply on the host's console queue; the reply's bytes, or why not. */
  private async ask(hostId: string, data: ConsoleJob, timeoutMs: number): Promise<string> {
    const name = consoleQueueName(hostId);
    const queue = this.hub.queue(name);
    const events = this.listenerOf(name);
    const job = await queue.add(data.kind, data, {
      attempts: 1,
      removeOnComplete: { age: 60 },
      removeOnFail: { age: 60 },
    });
    let reply: ConsoleReply;
    try {
      reply = (await job.waitUntilFinished(events, timeoutMs)) as ConsoleReply;
    } catch (err) {
      const late = await queue.getJob(job.id ?? '');
      if (late && (await late.isCompleted())) reply = late.returnvalue as ConsoleReply;
      else {
        if (late && (await late.isFailed())) throw err;
        await late?.remove().catch(() => undefined);
        throw new HostDidNotAnswer(hostId, timeoutMs);
      }
    }
    if (!reply.ok) throw new ConsoleRefused(reply.code, reply.reason);
    return reply.base64;
  }

  private listenerOf(name: string): QueueEvents {
    let events = this.listeners.get(name);
    if (!events) {
      events = new QueueEvents(name, { connection: this.settings.connection, prefix: this.settings.prefix });
      events.on('error', (err) => this.logger.debug({ err: err.message, queue: name }, 'console queue events'));
      this.listeners.set(name, events);
    }
    return events;
  }
}

/** One session as the API holds it; output that arrives before the worker's answer waits for it. */
class RelayLink implements ConsoleLink {
  scrollback: Buffer = Buffer.alloc(0);
  private early: Buffer[] | undefined = [];
  private readonly dataListeners: ((chunk: Buffer) => void)[] = [];
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private closedWith: string | undefined;
  private lastHeard = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly id: string,
    private readonly redis: Redis,
    private readonly channels: ConsoleChannels,
    private readonly onEnd: () => void,
  ) {
    this.timer = setInterval(() => this.tick(), PING_EVERY_MS);
    this.timer.unref();
  }

  /** The worker answered: scrollback first, then whatever came meanwhile, then live. */
  ready(scrollback: Buffer): void {
    this.scrollback = scrollback;
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
    for (const chunk of this.early?.splice(0) ?? []) listener(chunk);
    this.early = undefined;
  }

  onClose(listener: (reason: string) => void): void {
    if (this.closedWith !== undefined) listener(this.closedWith);
    else this.closeListeners.push(listener);
  }

  receive(msg: Buffer): void {
    this.lastHeard = Date.now();
    const tag = msg[0];
    if (tag === FRAME.data) {
      const chunk = msg.subarray(1);
      if (this.early) this.early.push(chunk);
      else for (const l of this.dataListeners) l(chunk);
    } else if (tag === FRAME.close) {
      this.end(msg.subarray(1).toString() || 'the host ended the session', false);
    }
  }

  write(data: Buffer): void {
    if (this.closedWith === undefined && data.length > 0) this.send(frame(FRAME.data, data));
  }

  close(reason: string): void {
    this.end(reason, true);
  }

  /** The open failed: forget the session without telling anyone. */
  abandon(): void {
    this.closedWith = 'not opened';
    clearInterval(this.timer);
    this.onEnd();
  }

  private tick(): void {
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) this.end('the host worker went silent', false);
    else this.send(frame(FRAME.ping));
  }

  private end(reason: string, tellWorker: boolean): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = reason;
    clearInterval(this.timer);
    if (tellWorker) this.send(frame(FRAME.close, Buffer.from(reason)));
    this.onEnd();
    for (const l of this.closeListeners.splice(0)) l(reason);
  }

  private send(msg: Buffer): void {
    this.redis.publish(this.channels.input(this.id), msg).catch(() => undefined);
  }
}
