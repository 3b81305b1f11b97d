import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { freePort } from '../../src/runtime/free-port.js';
import { ApiClient } from './api-client.js';
import { qemuPidsUnder, type HostRef } from './driver-check.js';
import { NodeProc } from './node-proc.js';
import { RedisProc } from './redis-proc.js';

export const ADMIN_TOKEN = 'chaos-admin-token-0123456789abcdef';

export interface ClusterOptions {
  name: string;
  /** DATA_DIR of every process (a tmpfs mount for the disk-full fault); a fresh temp dir otherwise. */
  dataDir?: string;
  /** EVENTSTORE_URL; the embedded SQLite file under DATA_DIR otherwise. */
  eventStoreUrl?: string;
  /** Environment every process gets (JOB_TIMEOUT_MS, JOB_LOCK_MS…). */
  env?: Record<string, string>;
}

/**
 * The real processes of one scenario: a private redis-server, the API/saga
 * process (ROLE=api, or all) and worker processes (ROLE=worker), all on one
 * DATA_DIR so a restarted worker finds its host's storage again.
 */
export class Cluster {
  readonly workDir: string;
  readonly dataDir: string;
  readonly eventStoreUrl: string;
  api!: NodeProc;
  readonly workers = new Map<string, NodeProc>();
  client!: ApiClient;
  port = 0;

  private constructor(
    readonly opts: ClusterOptions,
    readonly redis: RedisProc,
  ) {
    this.workDir = mkdtempSync(join(tmpdir(), `vl-chaos-${opts.name}-`));
    this.dataDir = opts.dataDir ?? join(this.workDir, 'data');
    this.eventStoreUrl = opts.eventStoreUrl ?? 'sqlite:events.sqlite3';
  }

  static async start(opts: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(opts, await RedisProc.start());
    c.port = await freePort();
    c.client = new ApiClient(`http://127.0.0.1:${c.port}`, ADMIN_TOKEN);
    return c;
  }

  env(): Record<string, string> {
    return {
      DATA_DIR: this.dataDir,
      REDIS_URL: this.redis.url,
      REDIS_PREFIX: 'chaos',
      EVENTSTORE_URL: this.eventStoreUrl,
      AUTH_TOKENS: `admin:${ADMIN_TOKEN}`,
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'warn',
      JOB_BACKOFF_MS: '200',
      JOB_LOCK_MS: '3000',
      RECONCILE_INTERVAL_MS: '5000',
      RECONCILE_STUCK_MS: '8000',
      SHUTDOWN_GRACE_MS: '3000',
      ...this.opts.env,
    };
  }

  /** The control plane: ROLE=api (no host workers) unless `role` says all. */
  async startApi(role: 'api' | 'all' = 'api', extraEnv: Record<string, string> = {}): Promise<void> {
    if (!this.api)
      this.api = new NodeProc({
        name: 'api',
        env: { ...this.env(), ROLE: role, PORT: String(this.port) },
        logFile: join(this.workDir, 'api.log'),
      });
    this.api.start(extraEnv);
    await this.client.waitHealthy(60000);
  }

  /** A worker process serving `hostIds`; the same object restarts it after a kill. */
  worker(name: string, hostIds: string[]): NodeProc {
    let w = this.workers.get(name);
    if (!w) {
      w = new NodeProc({
        name,
        // At least info: "virtledger worker running" is how a scenario knows a (re)start is up.
        env: {
          ...this.env(),
          ROLE: 'worker',
          WORKER_HOSTS: hostIds.join(','),
          LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'info',
        },
        logFile: join(this.workDir, `${name}.log`),
      });
      this.workers.set(name, w);
    }
    return w;
  }

  async registerHost(name: string, driver: 'simulated' | 'qemu', uri: string, vcpus = 64): Promise<string> {
    const id = `${name}-${randomUUID().slice(0, 6)}`;
    const r = await this.client.post('/v1/hosts', {
      id,
      name,
      driver,
      uri,
      capacity: { vcpus, memoryMiB: 64 * 1024 },
    });
    if (r.status !== 201) throw new Error(`register host ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id as string;
  }

  /** What most scenarios start with: the API, one host, and a started worker serving it. */
  async startWithHost(
    name: string,
    driver: HostRef['driver'],
    uri: string,
  ): Promise<{ hostId: string; hosts: HostRef[]; worker: NodeProc }> {
    await this.startApi('api');
    const hostId = await this.registerHost(name, driver, uri);
    const worker = this.worker('worker', [hostId]);
    worker.start();
    return { hostId, hosts: [{ id: hostId, driver, uri, storageDir: this.hostStorage(hostId) }], worker };
  }

  hostStorage(hostId: string): string {
    return join(this.dataDir, 'hosts', hostId);
  }

  /** Stops everything this scenario started; keeps the work dir when asked (to read the logs). */
  async close(keep = false): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop(5000)));
    await this.api?.stop(5000);
    await this.redis.kill();
    // The VMs a run leaves running are its own: stop their QEMU processes (after the verdict counted them).
    for (const p of qemuPidsUnder(this.dataDir)) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (!keep && !process.env.CHAOS_KEEP) rmSync(this.workDir, { recursive: true, force: true });
  }
}
