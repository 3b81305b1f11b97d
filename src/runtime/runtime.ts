import { Redis } from 'ioredis';
import type { ConnectionOptions } from 'bullmq';
import { mkdirSync } from 'node:fs';
import type { AppConfig } from '../config/config.js';
import { createEventStore } from '../eventstore/create-event-store.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { Sealer } from '../eventstore/seals/sealer.js';
import { createLogger, type Logger } from './logger.js';
import { startPrivateRedis, type PrivateRedis } from './private-redis.js';
import { AggregateLoader } from '../application/load-aggregate.js';
import { ResultConsumer } from '../application/result-consumer.js';
import { SAGA_CHECKPOINT, SagaRunner } from '../application/saga-runner.js';
import { ParkingLot } from '../projections/parking-lot.js';
import { PROJECTIONS } from '../projections/projection-catalog.js';
import { ProjectionRebuilds } from '../projections/projection-rebuilds.js';
import { ProjectionRunner } from '../projections/projection-runner.js';
import { ReadModelKeys } from '../projections/read-model.keys.js';
import { ReadModels } from '../projections/read-models.js';
import type { HostRecord } from '../projections/read-model.types.js';
import { QueueHub } from '../workers/queue-hub.js';
import { resolveTokens, type TokenEntry } from '../http/auth/auth-tokens.js';
import { Metrics } from './metrics.js';
import { WorkerPool } from './worker-pool.js';

interface RedisEndpoint {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
}

function redisOptions(url: string): RedisEndpoint {
  const u = new URL(url);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * Everything one process runs, built from the configuration and its role:
 * api = HTTP + sagas + projections + result consumer; worker = host workers
 * only (no event store: a hypervisor host needs to reach Redis alone);
 * all = both, serving every registered host.
 */
export class Runtime {
  readonly log: Logger;
  store: EventStore | undefined;
  /** Aggregate states for deciding (one cache per process); set with the store. */
  aggregates: AggregateLoader | undefined;
  redis!: Redis;
  connection!: ConnectionOptions;
  hub!: QueueHub;
  keys: ReadModelKeys;
  readModels!: ReadModels;
  readonly metrics = new Metrics();
  projections: ProjectionRunner[] = [];
  rebuilds: ProjectionRebuilds | undefined;
  sagas: SagaRunner | undefined;
  sealer: Sealer | undefined;
  results: ResultConsumer | undefined;
  pool!: WorkerPool;
  tokens: TokenEntry[] = [];
  private privateRedis: PrivateRedis | undefined;
  redisUrl = '';
  private hostWatch: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly config: AppConfig,
    log?: Logger,
  ) {
    this.log = log ?? createLogger(config.logLevel);
    this.keys = new ReadModelKeys(config.redisPrefix);
  }

  get runsControlPlane(): boolean {
    return this.config.role !== 'worker';
  }

  /** Connects to Redis and the store; nothing consumes events yet. */
  async init(): Promise<void> {
    mkdirSync(this.config.dataDir, { recursive: true });
    let url = this.config.redisUrl;
    if (!url) {
      this.privateRedis = await startPrivateRedis(this.config.dataDir, this.log);
      url = this.privateRedis.url;
    }
    this.redisUrl = url;
    const opts = redisOptions(url);
    this.redis = new Redis({ ...opts, maxRetriesPerRequest: 2, enableOfflineQueue: false, lazyConnect: true });
    this.redis.on('error', (err) => this.log.debug({ err: err.message }, 'redis'));
    await this.redis.connect();
    // BullMQ's blocking workers need maxRetriesPerRequest: null; producers fail fast instead of queueing forever.
    this.connection = { ...opts, maxRetriesPerRequest: null };
    this.hub = new QueueHub({
      connection: { ...opts, maxRetriesPerRequest: 1, enableOfflineQueue: false },
      prefix: `${this.config.redisPrefix}:q`,
      attempts: this.config.jobAttempts,
      backoffMs: this.config.jobBackoffMs,
    });
    this.readModels = new ReadModels(this.redis, this.keys);
    this.pool = new WorkerPool(
      this.config.dataDir,
      this.hub,
      {
        connection: this.connection,
        prefix: `${this.config.redisPrefix}:q`,
        concurrency: this.config.workerConcurrency,
        jobTimeoutMs: this.config.jobTimeoutMs,
        lockMs: this.config.jobLockMs,
      },
      this.log,
      {
        readModels: this.readModels,
        intervalMs: this.config.reconcileIntervalMs,
        stuckAfterMs: this.config.reconcileStuckMs,
      },
    );
    if (this.runsControlPlane) {
      this.tokens = resolveTokens(this.config, this.log);
      this.store = createEventStore(this.config.eventStoreUrl, { dataDir: this.config.dataDir });
      await this.store.init();
      const c = this.config;
      this.sealer = new Sealer(this.store, {
        keyFile: c.sealKeyFile,
        witnessFile: c.sealWitnessFile,
        everyEvents: c.sealEveryEvents,
        everyMs: c.sealEveryMs,
        log: this.log,
      });
      this.sealer.init();
      this.aggregates = new AggregateLoader(this.store);
    }
  }

  /** Starts subscriptions, the result consumer and host workers, per role. */
  async startBackground(): Promise<void> {
    if (this.store && this.aggregates) {
      const store = this.store;
      this.projections = Object.values(PROJECTIONS).map(
        (make) => new ProjectionRunner(make(this.keys), store, this.redis, this.keys, this.log),
      );
      await Promise.all(this.projections.map((p) => p.start()));
      this.rebuilds = new ProjectionRebuilds({
        store,
        redis: this.redis,
        keys: this.keys,
        log: this.log,
        runner: (name) => this.projection(name),
        waitForOperations: (position) => this.waitForProjections(position, 3000, ['vms']),
      });
      this.sagas = new SagaRunner(this.aggregates, this.hub, this.log, new ParkingLot(store, SAGA_CHECKPOINT));
      await this.sagas.start();
      this.results = new ResultConsumer(
        this.aggregates,
        this.connection,
        `${this.config.redisPrefix}:q`,
        this.log,
        (t, ms, ok) => this.metrics.observeCommand(t, ms, ok),
      );
      this.results.start();
      await this.sealer?.start();
    }
    if (this.config.workerHosts !== 'none') {
      await this.serveHosts();
      this.hostWatch = setInterval(() => void this.serveHosts().catch(() => undefined), 1000);
      this.hostWatch.unref();
    }
  }

  /** Starts a worker for every served host the read model knows of (hosts registered later are picked up). */
  private async serveHosts(): Promise<void> {
    if (this.stopped) return;
    const wanted = this.config.workerHosts;
    let hosts: HostRecord[];
    if (wanted === 'none') return;
    if (wanted === 'all') hosts = await this.readModels.listHosts();
    else
      hosts = (await Promise.all(wanted.map((id) => this.readModels.getHost(id)))).filter((h): h is HostRecord => !!h);
    for (const h of hosts) {
      if (h.state.id && !this.pool.workers.has(h.state.id)) {
        this.pool.serve({ id: h.state.id, driver: h.state.driver, uri: h.state.uri });
      }
    }
  }

  projection(name: string): ProjectionRunner | undefined {
    return this.projections.find((p) => p.projection.name === name);
  }

  /** Read-your-writes: wait until every projection has applied `position`. */
  async waitForProjections(position: bigint, timeoutMs = 3000, names?: string[]): Promise<boolean> {
    const runners = names ? this.projections.filter((p) => names.includes(p.projection.name)) : this.projections;
    const results = await Promise.all(runners.map((p) => p.waitFor(position, timeoutMs)));
    return results.every(Boolean);
  }

  /** Drain: stop consuming, let in-flight jobs finish within the grace period, close connections. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.hostWatch);
    await this.pool?.stop(this.config.shutdownGraceMs);
    await this.results?.stop();
    await this.sagas?.stop().catch((err: unknown) => this.log.warn({ err }, 'saga stop'));
    await this.rebuilds?.close();
    await this.sealer?.stop();
    await Promise.all(this.projections.map((p) => p.close().catch(() => undefined)));
    await this.hub?.close();
    await this.store?.close();
    this.redis?.disconnect();
    await this.privateRedis?.stop();
  }
}
