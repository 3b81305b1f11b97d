import { join } from 'node:path';
import type { Logger } from 'pino';
import { createDriver } from '../drivers/driver-registry.js';
import type { HostBinding } from '../drivers/hypervisor-driver.port.js';
import { HostWorker, type HostWorkerSettings } from '../workers/host-worker.js';
import type { QueueHub } from '../workers/queue-hub.js';

/** The host workers this process runs, one per served host. */
export class WorkerPool {
  readonly workers = new Map<string, HostWorker>();

  constructor(
    private readonly dataDir: string,
    private readonly hub: QueueHub,
    private readonly settings: HostWorkerSettings,
    private readonly log: Logger,
  ) {}

  binding(host: { id: string; driver: string; uri: string }): HostBinding {
    return { id: host.id, driver: host.driver, uri: host.uri, storageDir: join(this.dataDir, 'hosts', host.id) };
  }

  serve(host: { id: string; driver: string; uri: string }): HostWorker | undefined {
    if (this.workers.has(host.id)) return this.workers.get(host.id);
    try {
      const binding = this.binding(host);
      const worker = new HostWorker(binding, createDriver(binding), this.hub, this.settings, this.log);
      worker.start();
      this.workers.set(host.id, worker);
      return worker;
    } catch (err) {
      this.log.error({ err, host: host.id }, 'cannot serve host');
      return undefined;
    }
  }

  async stop(graceMs: number): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop(graceMs)));
    this.workers.clear();
  }
}
