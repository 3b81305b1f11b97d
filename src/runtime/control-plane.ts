import { deploymentConsoleChannels, QueueConsoleHosts } from './console-hosts.js';
import type { Redis } from 'ioredis';
import { redisAggregateSnapshots, snapshotMacKey } from './aggregate-snapshots.adapter.js';
import type { ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import type { AppConfig } from '../config/config.js';
import { createEventStore } from '../eventstore/create-event-store.js';
import type { EventStore } from '../eventstore/event-store.port.js';
import { AggregateLoader } from '../application/load-aggregate.js';
import { ResultConsumer } from '../application/result-consumer.js';
import { SAGA_CHECKPOINT, SagaRunner } from '../application/saga-runner.js';
import { Sealer } from '../eventstore/seals/sealer.js';
import { ParkingLot } from '../projections/parking-lot.js';
import { PROJECTIONS } from '../projections/projection-catalog.js';
import { ProjectionRebuilds, type MaintenanceDeps } from '../projections/projection-rebuilds.js';
import { ProjectionRunner } from '../projections/projection-runner.js';
import type { ReadModelKeys } from '../projections/read-model.keys.js';
import { replayCheck } from '../projections/replay-check.js';
import { ENDED_STATUSES, type OperationView } from '../projections/read-model.types.js';
import { resolveTokens, type TokenEntry } from '../http/auth/auth-tokens.js';
import type { ProjectionControl } from '../http/tokens.js';
import type { QueueHub } from '../workers/queue-hub.js';
import { QueueHostQueries } from './host-query-client.js';
import { HostWatch } from '../application/host-watch.js';
import { RestartTimers, type ScheduledRestartRef } from '../application/restart-timers.js';
import { ReadModels } from '../projections/read-models.js';
import { hostname } from 'node:os';
import { meteredStore } from './metered-store.js';
import type { Metrics } from './metrics.js';
import { CheckpointWatch } from './checkpoint-watch.js';
import { PauseKeys, PauseSignals, ProjectionGate, pausedAcrossCluster } from './cluster-pause.js';
import { LeaderLease } from './leader-lease.js';
import { redisOptions } from './redis-connection.js';

export interface ControlPlaneDeps {
  config: AppConfig;
  log: Logger;
  redis: Redis;
  /** Where `redis` connects: the lease's renewal thread opens its own connection there. */
  redisUrl: string;
  keys: ReadModelKeys;
  hub: QueueHub;
  /** BullMQ blocking connection for the result consumer. */
  blocking: ConnectionOptions;
  metrics: Metrics;
}

/**
 * The role api/all part: the event store, the projections, the saga runner and
 * the result consumer. Everything is built when it is opened; start() only
 * begins consuming. A worker-role process never builds one.
 */
export class ControlPlane {
  private constructor(
    private readonly deps: ControlPlaneDeps,
    private readonly maintenance: MaintenanceDeps,
    readonly store: EventStore,
    /** Aggregate states for deciding: one cache per process, checked against stream revisions. */
    readonly aggregates: AggregateLoader,
    readonly tokens: TokenEntry[],
    readonly projections: ProjectionRunner[],
    readonly rebuilds: ProjectionRebuilds,
    readonly sagas: SagaRunner,
    readonly results: ResultConsumer,
    /** Asks host workers over their query queues (GET /v1/hosts/{id}/domains). */
    readonly hostQueries: QueueHostQueries,
    /** Signs seals over the log (one owner at a time through $seals' expected revision). */
    readonly sealer: Sealer,
    /** Marks hosts unreachable when their workers fall silent (HOST_DEAD_MS). */
    readonly hostWatch: HostWatch,
    /** Who runs the once-per-cluster roles (sagas, projections, sealer, host watch) among the API processes. */
    readonly lease: LeaderLease,
    private readonly gate: ProjectionGate,
    /** Read-your-writes while another process owns the projections. */
    private readonly watch: CheckpointWatch,
    /** Starts the restarts healing scheduled, at their time (re-armed from the log at start). */
    readonly restartTimers: RestartTimers,
  ) {}

  private standbyTimer: NodeJS.Timeout | undefined;
  private sagaCheckpoint: bigint | undefined;
  /** Serial consoles through the hosts' workers (GET /v1/vms/{id}/console). */
  readonly consoles = new QueueConsoleHosts(
    this.deps.hub,
    this.deps.redis,
    {
      connection: this.deps.blocking,
      prefix: `${this.deps.config.redisPrefix}:q`,
      channels: deploymentConsoleChannels(`${this.deps.config.redisPrefix}:q`),
    },
    this.deps.log,
  );

  static async open(deps: ControlPlaneDeps): Promise<ControlPlane> {
    const { config, log, redis, keys } = deps;
    const tokens = resolveTokens(config, log);
    const store = meteredStore(createEventStore(config.eventStoreUrl, { dataDir: config.dataDir }), deps.metrics);
    await store.init();
    // Snapshots in Redis for cold loads (a restart, another API process): a wipe only costs full
    // folds; each is MACed with a key derived from the seal key, so Redis alone cannot forge a state.
    const aggregates = new AggregateLoader(store, {
      snapshots: redisAggregateSnapshots(
        redis,
        config.redisPrefix,
        snapshotMacKey(config.sealKeyFile),
        config.snapshotEvery,
      ),
    });
    const sealer = new Sealer(store, {
      keyFile: config.sealKeyFile,
      witnessFile: config.sealWitnessFile,
      everyEvents: config.sealEveryEvents,
      everyMs: config.sealEveryMs,
      log,
    });
    sealer.init();
    const projections = Object.values(PROJECTIONS).map(
      (make) => new ProjectionRunner(make(keys), store, redis, keys, log),
    );
    const lease = new LeaderLease(
      redis,
      {
        key: `${config.redisPrefix}:lease:control-plane`,
        ttlMs: config.leaseTtlMs,
        log,
        // Renewed from a thread of its own: a main loop held for seconds under load no longer loses it.
        renewFrom: redisOptions(deps.redisUrl),
        maxStallMs: config.leaseMaxStallMs,
      },
      // Bound below, once the roles exist (they are built after the lease's key is known).
      { acquired: () => cp.ownRoles(), lost: () => cp.dropRoles() },
    );
    deps.metrics.attachLease(() => ({ owner: lease.isOwner }));
    // Each page a runner writes lands only while this process still owns the lease (checked inside Redis).
    for (const p of projections) p.fence = () => lease.commitFence();
    const pauseKeys = new PauseKeys(config.redisPrefix);
    const pauseSignals = new PauseSignals(redis, pauseKeys);
    const gate = new ProjectionGate(redis, pauseKeys, projections, log, pauseSignals);
    const watch = new CheckpointWatch(
      redis,
      keys,
      projections.map((p) => p.projection.name),
    );
    // What rebuilds and the replay check share: the store, the read models, and the live runners.
    const maintenance: MaintenanceDeps = {
      store,
      redis,
      keys,
      log,
      runner: (name) => projections.find((p) => p.projection.name === name),
      // Whichever process owns the runner (this one or another) stops it, not only this process's copy.
      pause: (runner, fn) =>
        pausedAcrossCluster(redis, pauseKeys, runner.projection.name, () => lease.owner(), fn, {
          signals: pauseSignals,
        }),
      waitForOperations: (position) => cp.waitForProjections(position, 3000, ['vms']),
    };
    const rebuilds = new ProjectionRebuilds(maintenance);
    const readModels = new ReadModels(redis, keys);
    const restartTimers = new RestartTimers(aggregates, () => scheduledRestarts(readModels), log);
    const sagas = new SagaRunner(aggregates, deps.hub, log, new ParkingLot(store, SAGA_CHECKPOINT), {
      settings: config.healing,
      timers: restartTimers,
    });
    const results = new ResultConsumer(
      aggregates,
      deps.blocking,
      `${config.redisPrefix}:q`,
      log,
      (t, ms, ok) => deps.metrics.observeCommand(t, ms, ok),
      config.results,
    );
    const prefix = `${config.redisPrefix}:q`;
    const hostQueries = new QueueHostQueries(deps.hub, { connection: deps.blocking, prefix }, log);
    const cp: ControlPlane = new ControlPlane(
      deps,
      maintenance,
      store,
      aggregates,
      tokens,
      projections,
      rebuilds,
      sagas,
      results,
      hostQueries,
      sealer,
      new HostWatch(
        aggregates,
        {
          deadMs: config.hostDeadMs,
          checkMs: Math.max(100, Math.min(1000, Math.floor(config.hostDeadMs / 5))),
          observedBy: `${hostname()}/${process.pid}`,
          readHeartbeats: () => deps.hub.heartbeats(),
        },
        log,
      ),
      lease,
      gate,
      watch,
      restartTimers,
    );
    return cp;
  }

  /**
   * Every API process consumes results and serves HTTP; the roles that must run
   * once per cluster start when this process wins the lease (at once when it is
   * alone) and stop the moment it loses it.
   */
  async start(): Promise<void> {
    this.results.start();
    await this.lease.start();
    this.standbyTimer = setInterval(() => void this.refreshStandby(), 1000);
    this.standbyTimer.unref();
  }

  /** True while this process runs the sagas, projections, sealer and host watch. */
  get isOwner(): boolean {
    return this.lease.isOwner;
  }

  private async ownRoles(): Promise<void> {
    await this.gate.own();
    await this.sagas.start();
    // Restarts healing scheduled fire where the sagas run: one process, re-armed from the log.
    await this.restartTimers.start();
    await this.sealer.start();
    this.hostWatch.start();
  }

  private async dropRoles(): Promise<void> {
    const warn = (what: string) => (err: unknown) => this.deps.log.warn({ err }, `${what} stop`);
    this.hostWatch.stop();
    this.restartTimers.stop();
    await Promise.all([
      this.gate.disown().catch(warn('projections')),
      this.sagas.stop().catch(warn('saga')),
      this.sealer.stop().catch(warn('sealer')),
    ]);
  }

  /** A standby's view of the owner's progress (for /health lag): one MGET and one checkpoint read a second. */
  private async refreshStandby(): Promise<void> {
    if (this.lease.isOwner) return;
    try {
      await this.watch.refresh();
      this.sagaCheckpoint = await this.store.readCheckpoint(SAGA_CHECKPOINT);
    } catch {
      // Redis or the store down: /health says so through its own checks.
    }
  }

  /** The saga runner's position, this process's own or (standby) the owner's last checkpoint. */
  get sagaPosition(): bigint | undefined {
    return this.lease.isOwner ? this.sagas.position : this.sagaCheckpoint;
  }

  /**
   * What this process's runner of `name` committed under `key` (ProjectionRunner.committed), only while this
   * process owns the projections: a standby's runner is stopped, and one that just lost the lease may be
   * behind the new owner.
   */
  committed(name: string, key: string): unknown {
    return this.lease.isOwner ? this.projection(name)?.committed(key) : undefined;
  }

  projection(name: string): ProjectionRunner | undefined {
    return this.projections.find((p) => p.projection.name === name);
  }

  /**
   * Read-your-writes: wait until every (named) projection has applied `position`,
   * from this process's runners when it owns them, else from the checkpoints the owner writes.
   */
  waitForProjections(position: bigint, timeoutMs = 3000, names?: string[]): Promise<boolean> {
    if (this.lease.isOwner) return waitForNamed(this.projections, position, timeoutMs, names);
    return this.watch.waitFor(position, timeoutMs, names);
  }

  /** The projection engine as the HTTP edge sees it. */
  projectionControl(): ProjectionControl {
    const { redis, keys } = this.deps;
    return {
      list: () =>
        this.projections.map((p) => ({
          name: p.projection.name,
          position: this.lease.isOwner ? p.position : this.watch.position(p.projection.name),
        })),
      waitFor: (position, timeoutMs, names) => this.waitForProjections(position, timeoutMs, names),
      waitForEvent: async (event, timeoutMs, names) => {
        // A standby sees only the owner's checkpoints: it waits for the event's position.
        if (!this.lease.isOwner) return this.watch.waitFor(event.position, timeoutMs, names);
        const chosen = this.projections.filter((p) => names.includes(p.projection.name));
        const results = await Promise.all(
          chosen.map((p) => p.waitForStream(event.streamId, event.revision, event.position, timeoutMs)),
        );
        return results.every(Boolean);
      },
      nextApplied: async (name, match, timeoutMs) => {
        const runner = this.projection(name);
        // A standby sees checkpoints, not events: it wakes on any change and the caller reads again.
        if (!this.lease.isOwner) await this.watch.nextApplied(name, timeoutMs);
        else if (runner) await runner.nextApplied(match, timeoutMs);
      },
      endedOperation: (id) => {
        const op = this.committed('vms', keys.operation(id)) as OperationView | undefined;
        return op && ENDED_STATUSES.has(op.status) ? op : undefined;
      },
      startRebuild: (name, principal, opts) => this.rebuilds.start(name, principal, opts),
      rebuildProgress: async (operationId) => {
        const raw = await redis.get(keys.rebuildProgress(operationId));
        return raw ? (JSON.parse(raw) as Partial<OperationView['progress']>) : undefined;
      },
      replayCheck: () => replayCheck(this.maintenance, this.projections),
    };
  }

  async stop(): Promise<void> {
    clearInterval(this.standbyTimer);
    this.watch.close();
    await this.hostQueries.close();
    await this.consoles.close();
    await this.results.stop();
    await this.rebuilds.close();
    // Stops the roles (when owned) and hands the lease over at once rather than after its TTL.
    await this.lease.stop();
    this.gate.close();
    await Promise.all(this.projections.map((p) => p.close().catch(() => undefined)));
  }

  /** After every consumer stopped and the queues are closed. */
  async close(): Promise<void> {
    await this.store.close();
  }
}

/** Every restart healing scheduled and has not begun, from the vms read model (paged). */
async function scheduledRestarts(readModels: ReadModels): Promise<ScheduledRestartRef[]> {
  const out: ScheduledRestartRef[] = [];
  for (let cursor = 0; ;) {
    const page = await readModels.listVms(cursor, 500);
    for (const rec of page.items) {
      const s = rec.state.healing?.scheduled;
      if (s && rec.state.id) out.push({ vmId: rec.state.id, operationId: s.operationId, notBefore: s.notBefore });
    }
    if (!page.next) return out;
    cursor = Number(page.next);
  }
}

/** True once every named runner (all when `names` is omitted) has applied `position`. */
async function waitForNamed(
  runners: ProjectionRunner[],
  position: bigint,
  timeoutMs: number,
  names?: string[],
): Promise<boolean> {
  const chosen = names ? runners.filter((p) => names.includes(p.projection.name)) : runners;
  const results = await Promise.all(chosen.map((p) => p.waitFor(position, timeoutMs)));
  return results.every(Boolean);
}
