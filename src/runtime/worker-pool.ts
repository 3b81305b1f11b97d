import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createDriver, imageDirsFor } from '../drivers/driver-registry.js';
import { materializeCatalogImage } from '../drivers/kit/catalog-image.js';
import type { HostBinding } from '../drivers/hypervisor-driver.port.js';
import { HostWorker, type HostWorkerSettings } from '../workers/host-worker.js';
import type { CatalogImages } from '../workers/catalog-images.port.js';
import type { QueueHub } from '../workers/queue-hub.js';
import type { ReadModels } from '../projections/read-models.js';
import { Reconciler } from '../workers/reconciler.js';
import { driverSpec } from '../workers/driver-spec.js';
import { expectedVmsFromReadModels } from './expected-vms.adapter.js';
import { meteredDriver } from './metered-driver.js';
import type { Metrics } from './metrics.js';

export interface ReconcileSettings {
  readModels: ReadModels;
  intervalMs: number;
  stuckAfterMs: number;
}

/** The host workers this process runs, one per served host. */
export class WorkerPool {
  readonly workers = new Map<string, HostWorker>();
  readonly reconcilers = new Map<string, Reconciler>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly beats = new Map<string, NodeJS.Timeout>();
  /** Set before serving: every served host gets a heartbeat this often (ms). */
  heartbeatMs: number | undefined;
  /** WORKER_FENCE_ON_SHUTDOWN: on stop, force-stop every VM of each served host and confirm it (the host is fenced). */
  fenceOnShutdown = false;

  constructor(
    private readonly dataDir: string,
    private readonly hub: QueueHub,
    private readonly settings: HostWorkerSettings,
    private readonly log: Logger,
    private readonly reconcile?: ReconcileSettings,
    /** Driver calls are timed into these when given. */
    private readonly metrics?: Metrics,
    /** Where the control plane keeps uploaded images (IMAGE_CATALOG_DIR), shared with the workers of this machine. */
    private readonly imageCatalogDir?: string,
  ) {}

  /** Catalog images for one host: verified copies in its first images dir. */
  private catalogImages(binding: HostBinding): CatalogImages | undefined {
    const catalogDir = this.imageCatalogDir;
    const imagesDir = imageDirsFor(binding)[0];
    if (!catalogDir) return undefined;
    // A driver without an images dir (simulated, vsphere) gets the name and decides itself.
    if (!imagesDir) return { localImage: (ref) => Promise.resolve(ref.name) };
    return { localImage: (ref, signal) => materializeCatalogImage(ref, catalogDir, imagesDir, signal) };
  }

  binding(host: { id: string; driver: string; uri: string }): HostBinding {
    return { id: host.id, driver: host.driver, uri: host.uri, storageDir: join(this.dataDir, 'hosts', host.id) };
  }

  serve(host: { id: string; driver: string; uri: string }): HostWorker | undefined {
    if (this.workers.has(host.id)) return this.workers.get(host.id);
    try {
      const binding = this.binding(host);
      const driver = createDriver(binding);
      const metered = this.metrics ? meteredDriver(driver, binding.driver, this.metrics) : driver;
      const worker = new HostWorker(binding, metered, this.hub, this.settings, this.log, this.catalogImages(binding));
      worker.start();
      this.workers.set(host.id, worker);
      if (this.reconcile) this.startReconciler(host.id, worker);
      this.startHeartbeat(host.id);
      return worker;
    } catch (err) {
      this.log.error({ err, host: host.id }, 'cannot serve host');
      return undefined;
    }
  }

  /** "Still here" for the control plane's heartbeat watch: at once, then every heartbeatMs. */
  private startHeartbeat(hostId: string): void {
    if (!this.heartbeatMs) return;
    const by = `${hostname()}/${process.pid}`;
    const beat = () =>
      this.hub
        .heartbeat(hostId, { at: new Date().toISOString(), by })
        .catch((err: unknown) => this.log.warn({ err, host: hostId }, 'heartbeat not written'));
    void beat();
    const t = setInterval(() => void beat(), this.heartbeatMs);
    t.unref();
    this.beats.set(hostId, t);
  }

  /** A sweep at worker start, then periodically. */
  private startReconciler(hostId: string, worker: HostWorker): void {
    const r = this.reconcile!;
    const expected = expectedVmsFromReadModels(r.readModels);
    const reconciler = new Reconciler(hostId, worker.driver, expected, this.hub, this.log, r.stuckAfterMs);
    this.reconcilers.set(hostId, reconciler);
    let running = false;
    const sweep = async () => {
      if (running) return;
      running = true;
      try {
        await reconciler.sweep();
      } catch (err) {
        this.log.warn({ err, host: hostId }, 'reconciliation sweep failed');
      } finally {
        running = false;
      }
    };
    void sweep();
    const t = setInterval(() => void sweep(), r.intervalMs);
    t.unref();
    this.timers.set(hostId, t);
  }

  /** A removed host: its worker finishes what it holds (within graceMs) and takes nothing more; its sweeps stop. */
  async unserve(hostId: string, graceMs: number): Promise<void> {
    const worker = this.workers.get(hostId);
    if (!worker) return;
    clearInterval(this.timers.get(hostId));
    this.timers.delete(hostId);
    clearInterval(this.beats.get(hostId));
    this.beats.delete(hostId);
    await this.hub.forgetHeartbeat(hostId).catch(() => undefined);
    this.reconcilers.delete(hostId);
    this.workers.delete(hostId);
    await worker.stop(graceMs);
  }

  async stop(graceMs: number): Promise<void> {
    for (const t of this.timers.values()) clearInterval(t);
    for (const t of this.beats.values()) clearInterval(t);
    this.beats.clear();
    await Promise.all(
      [...this.workers.entries()].map(([hostId, w]) =>
        w.stop(graceMs, this.fenceOnShutdown ? () => this.fence(hostId, w) : undefined),
      ),
    );
    this.workers.clear();
  }

  /**
   * The machine is going down (WORKER_FENCE_ON_SHUTDOWN): once no job runs, every VM the control
   * plane places here that the driver runs is force-stopped, the heartbeat is withdrawn (so the
   * host is not judged reachable meanwhile), and the worker confirms it on the results queue: the
   * control plane fences the host on that evidence and recovers its VMs elsewhere.
   */
  private async fence(hostId: string, worker: HostWorker): Promise<void> {
    const expected = this.reconcile ? await expectedVmsFromReadModels(this.reconcile.readModels).onHost(hostId) : [];
    const specs = new Map(expected.map((vm) => [vm.id, vm.spec]));
    const stopped: string[] = [];
    for (const d of await worker.driver.listDomains()) {
      const spec = specs.get(d.vmId);
      if (!d.managed || !spec || (d.state !== 'running' && d.state !== 'paused' && d.state !== 'unknown')) continue;
      await worker.driver.stop(driverSpec(d.vmId, spec), { force: true });
      stopped.push(d.vmId);
    }
    await this.hub.forgetHeartbeat(hostId);
    const by = `${hostname()}/${process.pid}`;
    await this.hub.postResult(`fence.${hostId}.${by}.${Date.now()}`, {
      kind: 'fenced',
      hostId,
      confirmedBy: by,
      stoppedVms: stopped,
      principal: `system:worker@${by}`,
    });
    this.log.warn({ host: hostId, stopped }, 'fenced on shutdown: every VM of the host force-stopped');
  }
}
