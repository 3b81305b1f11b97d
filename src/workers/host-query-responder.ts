import { Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { DomainInfo, HypervisorDriver } from '../drivers/hypervisor-driver.port.js';

/*
 * The answering side of the control plane's host queries (the contract is
 * application/host-queries.ts; workers may not import it, so the queue name
 * comes from the composition root and the shapes are restated here).
 */
interface Question {
  query: 'listDomains';
  /** Epoch ms after which nobody waits for the answer. */
  deadline: number;
}

type Answer = { ok: true; items: DomainInfo[] } | { ok: false; reason: string };

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Answers questions about this host from its own driver. A driver failure is
 * an answer (`ok: false` with the driver's reason), never a failed job: the
 * asker shows it, and nothing retries a question whose asker has gone.
 */
export class HostQueryResponder {
  private worker: Worker<Question, Answer> | undefined;

  constructor(
    private readonly queueName: string,
    private readonly hostId: string,
    private readonly driver: HypervisorDriver,
    private readonly settings: { connection: ConnectionOptions; prefix: string },
    private readonly log: Logger,
  ) {}

  start(): void {
    this.worker = new Worker<Question, Answer>(this.queueName, (job) => this.answer(job), {
      connection: this.settings.connection,
      prefix: this.settings.prefix,
      // Listings are cheap and read-only; a couple at once keeps one slow call from blocking the next.
      concurrency: 2,
    });
    this.worker.on('error', (err) => this.log.warn({ err, host: this.hostId }, 'host query responder error'));
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
  }

  private async answer(job: Job<Question, Answer>): Promise<Answer> {
    const left = job.data.deadline - Date.now();
    if (left <= 0) return { ok: false, reason: 'the question expired before this worker took it' };
    if (job.data.query !== 'listDomains') return { ok: false, reason: `unknown query ${String(job.data.query)}` };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`listDomains did not answer within ${left} ms`)), left);
    });
    try {
      return { ok: true, items: await Promise.race([this.driver.listDomains(), late]) };
    } catch (err) {
      this.log.warn({ err: message(err), host: this.hostId }, 'listDomains failed');
      return { ok: false, reason: message(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}
