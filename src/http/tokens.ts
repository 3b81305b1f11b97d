/**
 * The ports the HTTP edge is given, as Nest injection tokens, in one place: a
 * controller or service asks for what it uses (`@Inject(EVENT_STORE)`), never
 * for the process around it. src/runtime builds the adapters per role and
 * hands them to AppModule.forRoot; tests may hand doubles.
 */
import type { Logger } from 'pino';
import type { RateCounter } from './rate-windows.js';
import type { Capabilities } from '../application/host-capabilities.js';
import type { DeadResult, FailedJob, ResultCounts } from '../application/jobs.js';
import type { AggregateLoader } from '../application/load-aggregate.js';
import type { HostQueries } from '../application/host-queries.js';
import type { ConsoleHosts } from '../application/console-sessions.js';
import type { AppConfig } from '../config/config.js';
import type { EventStore, RecordedEvent } from '../eventstore/event-store.port.js';
import type { SealAudit } from '../eventstore/seals/seal-audit.js';
import type { OperationView } from '../projections/read-model.types.js';
import type { ReadModels } from '../projections/read-models.js';
import type { ReplayCheckReport } from '../projections/replay-check.js';
import type { RebuildOptions } from '../projections/projection-rebuilds.js';
import type { TokenEntry } from './auth/auth-tokens.js';
import type { IdempotencyStore } from './idempotency.store.js';

export const EVENT_STORE = Symbol('virtledger.eventStore');
export const READ_MODELS = Symbol('virtledger.readModels');
export const CAPABILITIES = Symbol('virtledger.capabilities');
export const HOST_QUERIES = Symbol('virtledger.hostQueries');
/** Serial consoles through the hosts' workers (application/console-sessions.ts). */
export const CONSOLES = Symbol('virtledger.consoles');
export const ABORTS = Symbol('virtledger.aborts');
export const CLOCK = Symbol('virtledger.clock');
export const QUEUES = Symbol('virtledger.queues');
export const PROJECTIONS = Symbol('virtledger.projections');
export const METRICS = Symbol('virtledger.metrics');
export const LOGGER = Symbol('virtledger.logger');
export const CONFIG = Symbol('virtledger.config');
export const IDEMPOTENCY = Symbol('virtledger.idempotency');
export const STATUS = Symbol('virtledger.status');
export const AGGREGATES = Symbol('virtledger.aggregates');
export const SEAL_AUDIT = Symbol('virtledger.sealAudit');
/** The fleet at any point of the log (projections/fleet-history.ts), one per process. */
export const FLEET_HISTORY = Symbol('virtledger.fleetHistory');
/** What this process accepted, for reads that could show it (http/read-your-writes.ts), one per process. */
export const READ_YOUR_WRITES = Symbol('virtledger.readYourWrites');

/** Delivers a cancel to whichever worker runs the operation's job (aborting its driver call). */
export interface OperationAbortPort {
  abort(operationId: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

/** What /metrics reads of the host queues. */
export interface QueueStats {
  depth(hostId: string): Promise<number>;
  /** A host queue's jobs by BullMQ state (waiting, active, delayed, failed, …). */
  counts(hostId: string): Promise<Record<string, number>>;
  /** The newest failed jobs of a host's queue, with their error and attempts. */
  failed(hostId: string, limit: number): Promise<FailedJob[]>;
  /** One job while it is in the failed set, else undefined. */
  failedJob(hostId: string, jobId: string): Promise<FailedJob | undefined>;
  /** Failed → waiting; false when it was no longer failed. */
  retryFailed(hostId: string, jobId: string): Promise<boolean>;
  /** Removes a failed job and fails its operation with `reason`; false when it was no longer failed. */
  discardFailed(hostId: string, jobId: string, principal: string, reason: string): Promise<boolean>;
  /** The results stream: pending (read, not acknowledged), waiting (not read) and dead-lettered. */
  resultCounts(): Promise<ResultCounts>;
  /** Dead-lettered results, oldest first. */
  deadResults(limit: number): Promise<DeadResult[]>;
  deadResult(id: string): Promise<DeadResult | undefined>;
  /** Back on the results stream (atomically); undefined when it was not dead-lettered (any more). */
  retryDeadResult(id: string): Promise<DeadResult | undefined>;
  /** Deleted; undefined when it was not dead-lettered (any more). */
  discardDeadResult(id: string): Promise<DeadResult | undefined>;
}

export interface ProjectionPosition {
  name: string;
  /** Last log position applied; undefined before the first event. */
  position: bigint | undefined;
}

/** The projection engine as the HTTP edge uses it: positions, read-your-writes, rebuilds, replay check. */
export interface ProjectionControl {
  list(): ProjectionPosition[];
  /** True once every named projection (all when omitted) has applied `position`. */
  waitFor(position: bigint, timeoutMs: number, names?: string[]): Promise<boolean>;
  /**
   * Read-your-writes for one command: true once every named projection applied the
   * command's own stream up to its last event (not the whole log before it).
   */
  waitForEvent(
    event: Pick<RecordedEvent, 'streamId' | 'revision' | 'position'>,
    timeoutMs: number,
    names: string[],
  ): Promise<boolean>;
  /** Resolves on the next event projection `name` applies that matches, or after timeoutMs. */
  nextApplied(name: string, match: (e: RecordedEvent) => boolean, timeoutMs: number): Promise<void>;
  /**
   * The operation as this process's `vms` projection last committed it, when that says it ended
   * (succeeded, failed, cancelled: a status that never changes again), else undefined (not ended,
   * not known here, or this process does not run the projection). Saves a long-poll woken by the
   * operation's last event the Redis read of what was just written.
   */
  endedOperation?(id: string): OperationView | undefined;
  startRebuild(name: string, principal: string, opts: RebuildOptions): Promise<{ operationId: string }>;
  /** A running rebuild's live events-done/total (kept beside the view, not in the log). */
  rebuildProgress(operationId: string): Promise<Partial<OperationView['progress']> | undefined>;
  replayCheck(): Promise<ReplayCheckReport>;
}

/** Counters the edge feeds and /metrics renders. */
export interface HttpMetrics {
  observeCommand(command: string, ms: number, ok: boolean): void;
  /** `ms`: the request's duration, for the HTTP duration histogram. */
  observeRequest(method: string, route: string, status: number, ms?: number): void;
  setQueueDepth(hostId: string, depth: number): void;
  setLag(subscription: string, lag: number): void;
  /** The results stream's counts, read at scrape time. */
  setResults(counts: ResultCounts): void;
  render(): Promise<string>;
}

/** A part of the process that is running but not doing its job, and why. */
export interface Degraded {
  since: string;
  reason: string;
}

/** What /health and /metrics report of the process's background work. */
export interface RuntimeStatus {
  pingRedis(): Promise<void>;
  /** Subscriptions other than the projections (the saga runner), for lag. */
  subscriptions(): ProjectionPosition[];
  /** Hosts this process runs a worker for. */
  servedHosts(): string[];
  /** Set while finding the hosts to serve fails (read model unreachable…); undefined when fine. */
  hostServing(): Degraded | undefined;
  /**
   * Poison events parked per subscription (saga runner, each projection): a
   * non-zero count makes /health degraded and is exported by /metrics. Empty
   * until the runners count them.
   */
  parked(): Record<string, number>;
  /**
   * Whether this API process owns the control-plane lease (runs the sagas,
   * projections, sealer and host watch) and with which fencing token; the
   * holder names the process (`host/pid/nonce`).
   */
  lease?(): { owner: boolean; holder: string; fence?: number };
}

/** Everything AppModule.forRoot needs: the control plane's ports (a worker-role process serves no HTTP). */
export interface HttpPorts {
  config: AppConfig;
  log: Logger;
  clock: Clock;
  store: EventStore;
  /** Aggregate states for deciding, cached per process and checked against stream revisions. */
  aggregates: AggregateLoader;
  /** Seals, the public key, verification and inclusion proofs over the store. */
  sealAudit: SealAudit;
  readModels: ReadModels;
  capabilities: Capabilities;
  hostQueries: HostQueries;
  consoles: ConsoleHosts;
  aborts: OperationAbortPort;
  queues: QueueStats;
  projections: ProjectionControl;
  metrics: HttpMetrics;
  idempotency: IdempotencyStore;
  status: RuntimeStatus;
  tokens: TokenEntry[];
  /** Where rate-limit windows are counted (shared by every API process); this process's memory when absent. */
  rateLimitStorage?: RateCounter;
}
