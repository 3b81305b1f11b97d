import type { Redis } from 'ioredis';
import { mkdirSync } from 'node:fs';
import type { AppConfig } from '../config/config.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { hostQueryQueueName } from '../application/host-queries.js';
import { consoleQueueName } from '../application/console-sessions.js';
import { deploymentConsoleChannels } from './console-hosts.js';
import type { ProjectionRebuilds } from '../projections/projection-rebuilds.js';
import type { ProjectionRunner } from '../projections/projection-runner.js';
import type { Sealer } from '../eventstore/seals/sealer.js';
import { ReadModelKeys } from '../projections/read-model.keys.js';
import { ReadModels } from '../projections/read-models.js';
import { QueueHub } from '../workers/queue-hub.js';
import { ControlPlane } from './control-plane.js';
import { HostServing } from './host-serving.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { ReadModelCensus } from './metrics-census.js';
import { OperationTally } from './metrics-operations.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { connectRedis, type RedisConnection } from './redis-connection.js';
import { WorkerPool } from './worker-pool.js';

/**
 * The composition root: everything one process runs, built from the
 * configuration and its role, fully built when create() returns.
 * api = HTTP + sagas + projections + result consumer (the ControlPlane);
 * worker = host workers only, and no event store: a hypervisor host needs to
 * reach Redis alone; all = both, serving every registered host.
 * The HTTP edge never sees this object: it gets ports (see http-ports.ts).
 */
export class Runtime {
  private stopped = false;

  private constructor(
    readonly config: AppConfig,
    readonly log: Logger,
    readonly metrics: Metrics,
    private readonly conn: RedisConnection,
    private readonly privateRedis: PrivateRedis | undefined,
    readonly keys: ReadModelKeys,
    readonly hub: QueueHub,
    readonly readModels: ReadModels,
    readonly hosts: HostServing,
    /** Undefined in the worker role. */
    readonly controlPlane: ControlPlane | undefined,
  ) {}

  /** Connects to Redis (a private one when REDIS_URL is unset) and, per role, the store; nothing consumes yet. */
  static async create(config: AppConfig, log: Logger = createLogger(config.logLevel)): Promise<Runtime> {
    mkdirSync(config.dataDir, { recursive: true });
    let privateRedis: PrivateRedis | undefined;
    let conn: RedisConnection | undefined;
    try {
      let url = config.redisUrl;
      if (!url) {
        privateRedis = await startPrivateRedis(config.dataDir, log);
        url = privateRedis.url;
      }
      conn = await connectRedis(url, log);
      const keys = new ReadModelKeys(config.redisPrefix);
      const prefix = `${config.redisPrefix}:q`;
      const hub = new QueueHub({
        connection: conn.producer,
        prefix,
        attempts: config.jobAttempts,
        backoffMs: config.jobBackoffMs,
      });
      const readModels = new ReadModels(conn.redis, keys);
      const metrics = new Metrics();
      const pool = new WorkerPool(
        config.dataDir,
        hub,
        {
          connection: conn.blocking,
          prefix,
          concurrency: config.workerConcurrency,
          jobTimeoutMs: config.jobTimeoutMs,
          lockMs: config.jobLockMs,
          queryQueue: hostQueryQueueName,
          console: { queue: consoleQueueName, channels: deploymentConsoleChannels(prefix) },
          onJobFailure: (host, step, final) => metrics.observeJobFailure(host, step, final),
        },
        log,
        { readModels, intervalMs: config.reconcileIntervalMs, stuckAfterMs: config.reconcileStuckMs },
        metrics,
        config.imageCatalogDir,
      );
      pool.heartbeatMs = config.heartbeatMs;
      pool.fenceOnShutdown = config.workerFenceOnShutdown;
      const controlPlane =
        config.role === 'worker'
          ? undefined
          : await ControlPlane.open({
              config,
              log,
              redis: conn.redis,
              redisUrl: conn.url,
              keys,
              hub,
              blocking: conn.blocking,
              metrics,
            });
      // The cluster-wide gauges come from the control plane only: workers would repeat them.
      if (controlPlane) metrics.countConsoleSessions(() => controlPlane.consoles.openSessions);
      // Reads of a VM or an operation answered from what this process's `vms` runner committed, while it owns it.
      if (controlPlane) readModels.answerCommittedFrom((key) => controlPlane.committed('vms', key));
      if (controlPlane) metrics.attachReadModels(new ReadModelCensus(readModels, new OperationTally(conn.redis, keys)));
      const hosts = new HostServing(config, readModels, pool, log);
      return new Runtime(config, log, metrics, conn, privateRedis, keys, hub, readModels, hosts, controlPlane);
    } catch (err) {
      conn?.redis.disconnect();
      await privateRedis?.stop().catch(() => undefined);
      throw err;
    }
  }

  get redis(): Redis {
    return this.conn.redis;
  }

  get redisUrl(): string {
    return this.conn.url;
  }

  get connection() {
    return this.conn.blocking;
  }

  get pool(): WorkerPool {
    return this.hosts.pool;
  }

  /** The event store; undefined in the worker role. */
  get store(): EventStore | undefined {
    return this.controlPlane?.store;
  }

  /** The projection runners (none in the worker role). */
  get projections(): ProjectionRunner[] {
    return this.controlPlane?.projections ?? [];
  }

  get rebuilds(): ProjectionRebuilds | undefined {
    return this.controlPlane?.rebuilds;
  }

  /** The sealer (none in the worker role). */
  get sealer(): Sealer | undefined {
    return this.controlPlane?.sealer;
  }

  projection(name: string): ProjectionRunner | undefined {
    return this.controlPlane?.projection(name);
  }

  /** Read-your-writes: wait until every projection has applied `position` (true at once without a control plane). */
  async waitForProjections(position: bigint, timeoutMs = 3000, names?: string[]): Promise<boolean> {
    return this.controlPlane ? this.controlPlane.waitForProjections(position, timeoutMs, names) : true;
  }

  /** Starts subscriptions, the result consumer and host workers, per role. */
  async startBackground(): Promise<void> {
    await this.controlPlane?.start();
    await this.hosts.start();
  }

  /** Drain: stop consuming, let in-flight jobs finish within the grace period, close connections. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.hosts.stop(this.config.shutdownGraceMs);
    await this.controlPlane?.stop();
    await this.hub.close();
    await this.controlPlane?.close();
    this.conn.redis.disconnect();
    await this.privateRedis?.stop();
  }
}
