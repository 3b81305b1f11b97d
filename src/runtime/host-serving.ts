import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import type { HostRecord } from '../projections/read-model.types.js';
import type { ReadModels } from '../projections/read-models.js';
import type { Degraded } from '../http/tokens.js';
import type { WorkerPool } from './worker-pool.js';

/**
 * Which hosts this process runs a worker for (WORKER_HOSTS, or every
 * registered host), found in the hosts read model at start and every second
 * after, so a host registered later is picked up. A failing look-up is logged
 * once when it starts failing and shown by /health until it works again.
 */
export class HostServing {
  private watch: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing: Degraded | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly readModels: ReadModels,
    readonly pool: WorkerPool,
    private readonly log: Logger,
    private readonly everyMs = 1000,
  ) {}

  /** The first look-up must work: a process that cannot read its hosts at start fails to start. */
  async start(): Promise<void> {
    if (this.config.workerHosts === 'none') return;
    await this.serveHosts();
    this.watch = setInterval(() => void this.refresh(), this.everyMs);
    this.watch.unref();
  }

  degraded(): Degraded | undefined {
    return this.failing;
  }

  servedHosts(): string[] {
    return [...this.pool.workers.keys()];
  }

  private async refresh(): Promise<void> {
    try {
      await this.serveHosts();
      if (this.failing) this.log.info({ since: this.failing.since }, 'serving hosts again');
      this.failing = undefined;
    } catch (err) {
      const reason = `cannot read the hosts to serve: ${err instanceof Error ? err.message : String(err)}`;
      if (!this.failing || this.failing.reason !== reason) this.log.error({ err }, 'cannot read the hosts to serve');
      this.failing = { since: this.failing?.since ?? new Date().toISOString(), reason };
    }
  }

  /** Starts a worker for every served host the read model knows of. */
  private async serveHosts(): Promise<void> {
    if (this.stopped) return;
    const wanted = this.config.workerHosts;
    if (wanted === 'none') return;
    const hosts: HostRecord[] =
      wanted === 'all'
        ? await this.readModels.listHosts()
        : (await Promise.all(wanted.map((id) => this.readModels.getHost(id)))).filter((h): h is HostRecord => !!h);
    for (const h of hosts) {
      if (h.state.id && h.state.removed) {
        // Deregistered (it had no VM left): stop serving it cleanly, once.
        if (this.pool.workers.has(h.state.id)) {
          this.log.info({ host: h.state.id }, 'host removed: its worker stops');
          await this.pool.unserve(h.state.id, 5000);
        }
        continue;
      }
      if (h.state.id && !this.pool.workers.has(h.state.id)) {
        this.pool.serve({ id: h.state.id, driver: h.state.driver, uri: h.state.uri });
      }
    }
  }

  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    clearInterval(this.watch);
    await this.pool.stop(graceMs);
  }
}
