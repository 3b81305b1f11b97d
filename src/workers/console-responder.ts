import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DriverError, type ConsoleStream, type HypervisorDriver } from '../drivers/hypervisor-driver.port.js';
import { driverSpec } from './driver-spec.js';
import {
  FRAME,
  PING_EVERY_MS,
  SILENCE_LIMIT_MS,
  frame,
  type ConsoleChannels,
  type ConsoleJob,
  type ConsoleOpenJob,
  type ConsoleReply,
} from './console-wire.js';

interface Session {
  id: string;
  vmId: string;
  readOnly: boolean;
  lastHeard: number;
}

/** One attachment to a VM's console, shared by every session on it (QEMU's socket takes one client). */
interface Attachment {
  stream: ConsoleStream;
  sessions: Set<string>;
}

export interface ConsoleResponderSettings {
  connection: ConnectionOptions;
  prefix: string;
  queueName: string;
  channels: ConsoleChannels;
  /** A Redis client to publish on; a duplicate of it subscribes. */
  redis: () => Promise<Redis>;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The host's side of the serial console: opens the driver's console when the API asks, relays
 * its bytes to each session's output channel and the session's keystrokes back (never a
 * read-only session's), and lets go of the console when the last session closes, goes silent
 * (its API died) or the console itself ends (the VM stopped).
 */
export class ConsoleResponder {
  private worker: Worker<ConsoleJob, ConsoleReply> | undefined;
  private subscriber: Redis | undefined;
  private publisher: Redis | undefined;
  private readonly sessions = new Map<string, Session>();
  private readonly attachments = new Map<string, Attachment>();
  private readonly opening = new Map<string, Promise<Attachment>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly hostId: string,
    private readonly driver: HypervisorDriver,
    private readonly settings: ConsoleResponderSettings,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.publisher = await this.settings.redis();
    this.worker = new Worker<ConsoleJob, ConsoleReply>(this.settings.queueName, (job) => this.answer(job), {
      connection: this.settings.connection,
      prefix: this.settings.prefix,
      concurrency: 4,
    });
    this.worker.on('error', (err) => this.log.warn({ err, host: this.hostId }, 'console responder error'));
    this.timer = setInterval(() => this.tick(), PING_EVERY_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const id of [...this.sessions.keys()]) this.endSession(id, 'the host worker is stopping');
    await this.worker?.close();
    this.worker = undefined;
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await sub.quit().catch(() => sub.disconnect());
  }

  private async answer(job: Job<ConsoleJob, ConsoleReply>): Promise<ConsoleReply> {
    const data = job.data;
    if (data.deadline - Date.now() <= 0) return { ok: false, code: 'timeout', reason: 'the request expired' };
    try {
      if (data.kind === 'log') {
        if (!this.driver.consoleLog) return this.unsupported();
        const bytes = await this.driver.consoleLog(driverSpec(data.spec.id, data.spec), data.maxBytes);
        return { ok: true, base64: bytes.toString('base64') };
      }
      return await this.open(data);
    } catch (err) {
      const code = err instanceof DriverError ? err.code : 'failed';
      this.log.info({ err: message(err), host: this.hostId, vm: data.spec.id }, `console ${data.kind} refused`);
      return { ok: false, code, reason: message(err) };
    }
  }

  private unsupported(): ConsoleReply {
    return { ok: false, code: 'unsupported', reason: `the ${this.driver.kind} driver has no console` };
  }

  private async open(job: ConsoleOpenJob): Promise<ConsoleReply> {
    if (!this.driver.openConsole) return this.unsupported();
    const vmId = job.spec.id;
    const attachment = await this.attach(job);
    const session: Session = { id: job.sessionId, vmId, readOnly: job.readOnly, lastHeard: Date.now() };
    this.sessions.set(session.id, session);
    attachment.sessions.add(session.id);
    // Subscribed before answering: the API may type the moment it has the answer.
    await this.subscribed().subscribe(this.settings.channels.input(session.id));
    const scrollback =
      job.scrollbackBytes > 0 && this.driver.consoleLog
        ? await this.driver.consoleLog(driverSpec(vmId, job.spec), job.scrollbackBytes).catch(() => Buffer.alloc(0))
        : Buffer.alloc(0);
    this.log.info({ host: this.hostId, vm: vmId, session: session.id, readOnly: job.readOnly }, 'console attached');
    return { ok: true, base64: scrollback.toString('base64') };
  }

  /** Made at the first session, not at start: a host whose consoles nobody opens costs no extra connection. */
  private subscribed(): Redis {
    if (!this.subscriber) {
      const sub = this.publisher!.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
      sub.on('messageBuffer', (channel: Buffer, msg: Buffer) => this.onInput(channel.toString(), msg));
      sub.on('error', (err) => this.log.debug({ err: message(err), host: this.hostId }, 'console subscriber'));
      this.subscriber = sub;
    }
    return this.subscriber;
  }

  /** The VM's shared attachment, opened once even when two sessions ask at the same moment. */
  private async attach(job: ConsoleOpenJob): Promise<Attachment> {
    const vmId = job.spec.id;
    const existing = this.attachments.get(vmId);
    if (existing) return existing;
    let pending = this.opening.get(vmId);
    if (!pending) {
      pending = this.driver.openConsole!(driverSpec(vmId, job.spec)).then((stream) => {
        const a: Attachment = { stream, sessions: new Set() };
        this.attachments.set(vmId, a);
        stream.onData((chunk) => this.fanOut(a, chunk));
        stream.onClose((reason) => this.detached(vmId, a, reason));
        return a;
      });
      this.opening.set(vmId, pending);
      pending.then(
        () => this.opening.delete(vmId),
        () => this.opening.delete(vmId),
      );
    }
    return pending;
  }

  private fanOut(a: Attachment, chunk: Buffer): void {
    const msg = frame(FRAME.data, chunk);
    for (const id of a.sessions) this.publish(id, msg);
  }

  /** The console ended under the sessions (VM stopped, socket gone): tell each of them why. */
  private detached(vmId: string, a: Attachment, reason: string): void {
    if (this.attachments.get(vmId) === a) this.attachments.delete(vmId);
    for (const id of [...a.sessions]) this.endSession(id, reason);
  }

  private onInput(channel: string, msg: Buffer): void {
    const id = /:console:([^:]+):in$/.exec(channel)?.[1];
    const session = id ? this.sessions.get(id) : undefined;
    if (!session || msg.length === 0) return;
    session.lastHeard = Date.now();
    const tag = msg[0];
    if (tag === FRAME.close) {
      this.endSession(session.id, msg.subarray(1).toString() || 'closed by the client', false);
    } else if (tag === FRAME.data && !session.readOnly) {
      this.attachments.get(session.vmId)?.stream.write(msg.subarray(1));
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const s of [...this.sessions.values()]) {
      if (now - s.lastHeard > SILENCE_LIMIT_MS) this.endSession(s.id, 'the API side went silent');
      else this.publish(s.id, frame(FRAME.ping));
    }
  }

  /** Drops a session; the last one out detaches from the console so others (an operator's socat) can attach. */
  private endSession(id: string, reason: string, tell = true): void {
    const session = this.sessions.get(id);
    if (!session) return;
    this.sessions.delete(id);
    if (tell) this.publish(id, frame(FRAME.close, Buffer.from(reason)));
    void this.subscriber?.unsubscribe(this.settings.channels.input(id)).catch(() => undefined);
    const a = this.attachments.get(session.vmId);
    if (a) {
      a.sessions.delete(id);
      if (a.sessions.size === 0) {
        this.attachments.delete(session.vmId);
        a.stream.close();
      }
    }
    this.log.info({ host: this.hostId, vm: session.vmId, session: id, reason }, 'console session ended');
  }

  private publish(sessionId: string, msg: Buffer): void {
    this.publisher
      ?.publish(this.settings.channels.output(sessionId), msg)
      .catch((err: unknown) => this.log.debug({ err: message(err) }, 'console publish failed'));
  }
}
