import { plainToInstance, Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, validateSync } from 'class-validator';
import { dirname, resolve } from 'node:path';

export type Role = 'all' | 'api' | 'worker';

/**
 * One process turns round about 1,600 requests/s of the chaos `load` mix on a quiet 2-core machine: 64 in
 * flight would be ~40 ms of queue where 200 clients made 123 ms (Little's law; not yet measured on a quiet
 * machine), and it is above what a client of ours sends at once (the bench: 32 creates; a test: 50 commands).
 */
export const DEFAULT_MAX_REQUESTS_IN_FLIGHT = 64;

/** Environment as read; names are the variables users set. */
class EnvSchema {
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535) PORT?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(65535) METRICS_PORT?: number;
  @IsOptional()
  @IsString()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must look like redis://host:port[/db]' })
  REDIS_URL?: string;
  @IsOptional()
  @IsString()
  // KurrentDB: every scheme client 1.3.1 parses; `+discover` finds a cluster's nodes (DNS or gossip seeds).
  @Matches(/^(sqlite:\S+|postgres(ql)?:\/\/\S+|(kurrentdb|kurrent|kdb|esdb)(\+discover)?:\/\/\S+)$/, {
    message:
      'EVENTSTORE_URL must be sqlite:<file>, postgres://…, kurrentdb://host:2113[,host2:2113…] or kurrentdb+discover://cluster-dns:2113 (esdb:// and esdb+discover:// also accepted)',
  })
  EVENTSTORE_URL?: string;
  @IsOptional() @IsString() DATA_DIR?: string;
  @IsOptional()
  @IsString()
  @Matches(
    /^((admin|operator|auditor|viewer):[A-Za-z0-9._~+/=-]{16,})(,(admin|operator|auditor|viewer):[A-Za-z0-9._~+/=-]{16,})*$/,
    {
      message:
        'AUTH_TOKENS must be role:token[,role:token…] with roles admin|operator|auditor|viewer and tokens of 16+ URL-safe characters',
    },
  )
  AUTH_TOKENS?: string;
  @IsOptional() @IsString() AUTH_FILE?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(10000) SSE_MAX_PER_PRINCIPAL?: number;
  @IsOptional() @IsIn(['all', 'api', 'worker']) ROLE?: string;
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*$/, { message: 'WORKER_HOSTS must be host ids separated by commas' })
  WORKER_HOSTS?: string;
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9:_-]{1,64}$/, { message: 'REDIS_PREFIX must be 1-64 of [A-Za-z0-9:_-]' })
  REDIS_PREFIX?: string;
  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) LOG_LEVEL?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100) JOB_ATTEMPTS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(600000) JOB_BACKOFF_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(86400000) JOB_TIMEOUT_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(50) @Max(3600000) RESULT_RETRY_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) RESULT_MAX_DELIVERIES?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1000) @Max(3600000) RECONCILE_INTERVAL_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(2) @Max(1000000) SNAPSHOT_EVERY?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(86400000) RECONCILE_STUCK_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(600000) SHUTDOWN_GRACE_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) WORKER_CONCURRENCY?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1000) @Max(600000) JOB_LOCK_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(600000) READ_MODEL_WAIT_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(600000) HOST_QUERY_TIMEOUT_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(600000) HEARTBEAT_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(300) @Max(3600000) HOST_DEAD_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(100) @Max(3600000) IDEMPOTENCY_CLAIM_MS?: number;
  @IsOptional() @IsIn(['0', '1']) WORKER_FENCE_ON_SHUTDOWN?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(3600000) HEALING_BACKOFF_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(86400000) HEALING_BACKOFF_MAX_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(1000) HEALING_MAX_RESTARTS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(1000) @Max(604800000) HEALING_WINDOW_MS?: number;
  @IsOptional() @IsString() BODY_LIMIT?: string;
  @IsOptional() @IsIn(['spread', 'pack']) PLACEMENT_STRATEGY?: 'spread' | 'pack';
  @IsOptional() @Type(() => Number) @IsInt() @Min(512) @Max(Number.MAX_SAFE_INTEGER) IMAGE_MAX_BYTES?: number;
  @IsOptional()
  @IsString()
  @Matches(/^\/[^,\0]*$/, { message: 'IMAGE_CATALOG_DIR must be an absolute directory' })
  IMAGE_CATALOG_DIR?: string;
  @IsOptional()
  @IsString()
  @Matches(/^\/[^,\0]*(,\/[^,\0]*)*$/, { message: 'HOST_DIR_ROOTS must be absolute directories separated by commas' })
  HOST_DIR_ROOTS?: string;
  @IsOptional() @IsIn(['0', '1']) LIBVIRT_ALLOW_UNSAFE_URIS?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(100000000) RATE_LIMIT_PER_MINUTE?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(10000000) RATE_LIMIT_BURST?: number;
  @IsOptional() @IsString() SEAL_KEY_FILE?: string;
  @IsOptional() @IsString() SEAL_WITNESS_FILE?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(100000000) SEAL_EVERY_EVENTS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(86400000) SEAL_EVERY_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(300) @Max(600000) LEASE_TTL_MS?: number;
  @IsOptional() @Type(() => Number) @IsInt() @Min(300) @Max(3600000) LEASE_MAX_STALL_MS?: number;
  @IsOptional() @IsIn(['redis', 'memory']) RATE_LIMIT_STORE?: string;
  @IsOptional() @Type(() => Number) @IsInt() @Min(0) @Max(100000) MAX_REQUESTS_IN_FLIGHT?: number;
}

export interface AppConfig {
  role: Role;
  port: number;
  /**
   * Where GET /metrics is served on its own (0: a port the kernel picks). Default 9464 for
   * the worker role, which has no HTTP API; unset for api/all, whose /metrics is on `port`.
   */
  metricsPort: number | undefined;
  /** Undefined: start a private redis-server under dataDir. */
  redisUrl: string | undefined;
  redisPrefix: string;
  eventStoreUrl: string;
  dataDir: string;
  /** Undefined: generate an admin token into dataDir/admin.token. */
  authTokens: Array<{ role: 'admin' | 'operator' | 'auditor' | 'viewer'; token: string }> | undefined;
  /** JSON users file ({name, role, projects, tokenSha256}); tokens never stored in clear. */
  authFile: string | undefined;
  /** Concurrent SSE connections one principal may hold (per API process); one more is a 429. */
  sseMaxPerPrincipal: number;
  /** Hosts whose jobs this process runs; 'all' = every registered host (all-in-one). */
  workerHosts: string[] | 'all' | 'none';
  logLevel: string;
  jobAttempts: number;
  jobBackoffMs: number;
  jobTimeoutMs: number;
  /**
   * A result the control plane read and did not record (its process died, the store was down) is
   * taken again after this long (RESULT_RETRY_MS); after RESULT_MAX_DELIVERIES takes it is dead-lettered.
   */
  results: { claimIdleMs: number; maxDeliveries: number };
  reconcileIntervalMs: number;
  /** An aggregate snapshot (Redis) each time a stream's revision crosses a multiple of this. */
  snapshotEvery: number;
  /** How often a worker says it is alive for each host it serves (HEARTBEAT_MS). */
  heartbeatMs: number;
  /** A host whose worker is silent this long becomes unreachable (HOST_DEAD_MS). */
  hostDeadMs: number;
  /** How placement orders hosts when a create names none (PLACEMENT_STRATEGY): spread (most free) or pack (fullest that fits). */
  placementStrategy: 'spread' | 'pack';
  /** On shutdown a worker force-stops its hosts' VMs and confirms it: the hosts are fenced (WORKER_FENCE_ON_SHUTDOWN=1). */
  workerFenceOnShutdown: boolean;
  /** Restarts by restartPolicy: backoff base and cap, at most maxRestarts within windowMs (HEALING_*). */
  healing: { baseMs: number; maxMs: number; maxRestarts: number; windowMs: number };
  reconcileStuckMs: number;
  shutdownGraceMs: number;
  workerConcurrency: number;
  /** BullMQ job lock: a job of a killed worker is redelivered within about 1.5× this. */
  jobLockMs: number;
  /** How long a read of an id the read model does not show yet waits for it to reach the log's head. */
  readModelWaitMs: number;
  /** How long GET /v1/hosts/{id}/domains waits for the host's worker to answer before a 503. */
  hostQueryTimeoutMs: number;
  /** How long an Idempotency-Key claim outlives a process that died mid-request (renewed while the request runs). */
  idempotencyClaimMs: number;
  bodyLimit: string;
  /** PUT /v1/images/{name}: an upload larger than this is refused with 413 as soon as it passes it. */
  imageMaxBytes: number;
  /**
   * The image catalog's files (DATA_DIR/images by default): the API writes uploads here and a
   * worker on the same machine (or with this directory mounted) copies what its host lacks from it.
   */
  imageCatalogDir: string;
  /** Requests a principal (or, without a valid token, an IP) may send per minute; 0 = no limit. */
  rateLimitPerMinute: number;
  /** Requests it may send within any one second; 0 = no limit. */
  rateLimitBurst: number;
  /** Where rate-limit windows are counted: Redis (one budget across every API process) or this process's memory. */
  rateLimitStore: 'redis' | 'memory';
  /** API requests worked on at once in this process (http/admission.ts); past it a 429 with Retry-After. 0 = no limit. */
  maxRequestsInFlight: number;
  /**
   * The control-plane lease (LEASE_TTL_MS): one API process at a time runs the sagas, projections,
   * sealer and host watch; a dead owner is replaced within about this long.
   */
  leaseTtlMs: number;
  /**
   * The owner's renewal thread keeps the lease while the main event loop stands still (a full GC, a
   * starved core) for at most this long (LEASE_MAX_STALL_MS, default 3 × LEASE_TTL_MS): a loop wedged
   * longer lets the lease go, and a standby takes over within this plus the TTL.
   */
  leaseMaxStallMs: number;
  /**
   * Every directory a host URI names (storage=, images=, busybox=, …) must lie under one of these,
   * symlinks resolved (HOST_DIR_ROOTS, default DATA_DIR): the worker runs as root.
   */
  hostDirRoots: string[];
  /** libvirt host URIs whose transport runs a program (+ext, command=, socket=, netcat=, no_verify): refused unless set. */
  allowUnsafeLibvirtUris: boolean;
  /** The sealer's ed25519 private key (generated on first start, 0600); never in the event store's directory. */
  sealKeyFile: string;
  /** One JSON line per seal, fsynced; `none` turns it off. */
  sealWitnessFile: string | undefined;
  /** Seal once this many events are unsealed (0: never by count). */
  sealEveryEvents: number;
  /** Seal what is unsealed at least this often (0: never by time; both 0: only on request). */
  sealEveryMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Command-line flags win over the environment: `--role worker --host h1`. */
export function parseArgv(argv: string[]): { role?: string; hosts?: string; port?: string } {
  const out: { role?: string; hosts?: string; port?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2);
    const value = inline ?? argv[i + 1];
    const take = () => {
      if (inline === undefined) i++;
      return value;
    };
    if (flag === '--role') out.role = take();
    else if (flag === '--host' || flag === '--hosts') out.hosts = take();
    else if (flag === '--port') out.port = take();
  }
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = []): AppConfig {
  const args = parseArgv(argv);
  const raw: Record<string, unknown> = { ...env };
  if (args.role) raw.ROLE = args.role;
  if (args.hosts) raw.WORKER_HOSTS = args.hosts;
  if (args.port) raw.PORT = args.port;
  for (const k of Object.keys(raw)) if (raw[k] === '') delete raw[k];
  const parsed = plainToInstance(EnvSchema, raw, { excludeExtraneousValues: false });
  const errors = validateSync(parsed, { skipMissingProperties: false, forbidUnknownValues: false });
  if (errors.length) {
    const lines = errors.map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const role = (parsed.ROLE ?? 'all') as Role;
  if (role === 'worker' && !parsed.WORKER_HOSTS) {
    throw new ConfigError(
      'invalid configuration:\n  WORKER_HOSTS: the worker role needs --host <id> (or WORKER_HOSTS)',
    );
  }
  const dataDir = resolve(parsed.DATA_DIR ?? './data');
  const eventStoreUrl = parsed.EVENTSTORE_URL ?? 'sqlite:events.sqlite3';
  const sealKeyFile = resolve(dataDir, parsed.SEAL_KEY_FILE ?? 'keys/seal.key');
  if (eventStoreUrl.startsWith('sqlite:')) {
    const storeDir = dirname(resolve(dataDir, eventStoreUrl.slice('sqlite:'.length)));
    // Whoever copies or reads the store's directory must not get the key that signs seals over it.
    if (dirname(sealKeyFile) === storeDir)
      throw new ConfigError(
        `invalid configuration:\n  SEAL_KEY_FILE: ${sealKeyFile} is in the event store's directory ${storeDir}; keep the seal key elsewhere`,
      );
  }
  const workerHosts: AppConfig['workerHosts'] = parsed.WORKER_HOSTS
    ? parsed.WORKER_HOSTS.split(',')
    : role === 'api'
      ? 'none'
      : 'all';
  return {
    role,
    port: parsed.PORT ?? 3000,
    metricsPort: parsed.METRICS_PORT ?? (role === 'worker' ? 9464 : undefined),
    redisUrl: parsed.REDIS_URL,
    redisPrefix: parsed.REDIS_PREFIX ?? 'vl',
    eventStoreUrl,
    dataDir,
    authTokens: parsed.AUTH_TOKENS?.split(',').map((pair) => {
      const i = pair.indexOf(':');
      return { role: pair.slice(0, i) as 'admin', token: pair.slice(i + 1) };
    }),
    authFile: parsed.AUTH_FILE ? resolve(parsed.AUTH_FILE) : undefined,
    sseMaxPerPrincipal: parsed.SSE_MAX_PER_PRINCIPAL ?? 8,
    workerHosts,
    logLevel: parsed.LOG_LEVEL ?? 'info',
    jobAttempts: parsed.JOB_ATTEMPTS ?? 3,
    jobBackoffMs: parsed.JOB_BACKOFF_MS ?? 500,
    jobTimeoutMs: parsed.JOB_TIMEOUT_MS ?? 120000,
    results: { claimIdleMs: parsed.RESULT_RETRY_MS ?? 3000, maxDeliveries: parsed.RESULT_MAX_DELIVERIES ?? 20 },
    reconcileIntervalMs: parsed.RECONCILE_INTERVAL_MS ?? 30000,
    snapshotEvery: parsed.SNAPSHOT_EVERY ?? 500,
    reconcileStuckMs: parsed.RECONCILE_STUCK_MS ?? 60000,
    shutdownGraceMs: parsed.SHUTDOWN_GRACE_MS ?? 15000,
    workerConcurrency: parsed.WORKER_CONCURRENCY ?? 4,
    jobLockMs: parsed.JOB_LOCK_MS ?? 30000,
    readModelWaitMs: parsed.READ_MODEL_WAIT_MS ?? 10000,
    hostQueryTimeoutMs: parsed.HOST_QUERY_TIMEOUT_MS ?? 5000,
    heartbeatMs: parsed.HEARTBEAT_MS ?? Math.min(2000, Math.max(100, Math.floor((parsed.HOST_DEAD_MS ?? 15000) / 3))),
    hostDeadMs: parsed.HOST_DEAD_MS ?? 15000,
    placementStrategy: parsed.PLACEMENT_STRATEGY ?? 'spread',
    workerFenceOnShutdown: parsed.WORKER_FENCE_ON_SHUTDOWN === '1',
    healing: {
      baseMs: parsed.HEALING_BACKOFF_MS ?? 1000,
      maxMs: parsed.HEALING_BACKOFF_MAX_MS ?? 60000,
      maxRestarts: parsed.HEALING_MAX_RESTARTS ?? 5,
      windowMs: parsed.HEALING_WINDOW_MS ?? 600000,
    },
    idempotencyClaimMs: parsed.IDEMPOTENCY_CLAIM_MS ?? 60000,
    bodyLimit: parsed.BODY_LIMIT ?? '64kb',
    imageMaxBytes: parsed.IMAGE_MAX_BYTES ?? 8 * 1024 ** 3,
    imageCatalogDir: resolve(dataDir, parsed.IMAGE_CATALOG_DIR ?? 'images'),
    // Generous: meant to stop a runaway or hostile client, never a busy one (the bench included).
    rateLimitPerMinute: parsed.RATE_LIMIT_PER_MINUTE ?? 60000,
    rateLimitBurst: parsed.RATE_LIMIT_BURST ?? 2000,
    rateLimitStore: parsed.RATE_LIMIT_STORE === 'memory' ? 'memory' : 'redis',
    maxRequestsInFlight: parsed.MAX_REQUESTS_IN_FLIGHT ?? DEFAULT_MAX_REQUESTS_IN_FLIGHT,
    leaseTtlMs: parsed.LEASE_TTL_MS ?? 3000,
    leaseMaxStallMs: parsed.LEASE_MAX_STALL_MS ?? 3 * (parsed.LEASE_TTL_MS ?? 3000),
    hostDirRoots: parsed.HOST_DIR_ROOTS ? parsed.HOST_DIR_ROOTS.split(',').map((d) => resolve(d)) : [dataDir],
    allowUnsafeLibvirtUris: parsed.LIBVIRT_ALLOW_UNSAFE_URIS === '1',
    sealKeyFile,
    sealWitnessFile:
      parsed.SEAL_WITNESS_FILE === 'none'
        ? undefined
        : resolve(dataDir, parsed.SEAL_WITNESS_FILE ?? 'witness/seals.ndjson'),
    sealEveryEvents: parsed.SEAL_EVERY_EVENTS ?? 1000,
    sealEveryMs: parsed.SEAL_EVERY_MS ?? 60000,
  };
}
