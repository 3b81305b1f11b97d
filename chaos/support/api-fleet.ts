import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { freePort } from '../../src/runtime/free-port.js';
import { ApiClient } from './api-client.js';
import { NodeProc } from './node-proc.js';

export const FLEET_ADMIN_TOKEN = 'fleet-admin-token-0123456789abcdef';

export interface ApiFleetOptions {
  name: string;
  /** How many API processes (ROLE=api). */
  apis: number;
  redisUrl: string;
  /** REDIS_PREFIX shared by every process (one cluster). */
  redisPrefix: string;
  /** PostgreSQL (several processes on one store) with a schema of the caller's. */
  eventStoreUrl: string;
  env?: Record<string, string>;
  /** ROLE of the fleet's processes: api (default; workers run apart) or all (each also runs a worker for every host). */
  role?: 'api' | 'all';
  /** Flags for node before the script in every process of the fleet (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export interface ApiMember {
  index: number;
  proc: NodeProc;
  client: ApiClient;
  port: number;
}

/** What /health says about the control-plane lease of one process. */
export interface LeaseView {
  owner: boolean;
  holder: string;
  fence?: number;
}

/**
 * Several API processes of one cluster (one Redis prefix, one event store, one
 * DATA_DIR), plus worker processes: what an operator runs behind a balancer.
 */
export class ApiFleet {
  readonly workDir: string;
  readonly dataDir: string;
  readonly members: ApiMember[] = [];
  readonly workers = new Map<string, NodeProc>();

  private constructor(readonly opts: ApiFleetOptions) {
    this.workDir = mkdtempSync(join(tmpdir(), `vl-fleet-${opts.name}-`));
    this.dataDir = join(this.workDir, 'data');
  }

  /** Starts the API processes one after another (the first owns the lease), each healthy before the next. */
  static async start(opts: ApiFleetOptions): Promise<ApiFleet> {
    const f = new ApiFleet(opts);
    try {
      for (let i = 0; i < opts.apis; i++) {
        const port = await freePort();
        const proc = new NodeProc({
          name: `api${i}`,
          env: { ...f.env(), ROLE: opts.role ?? 'api', PORT: String(port) },
          ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}),
          logFile: join(f.workDir, `api${i}.log`),
        });
        const member = { index: i, proc, client: new ApiClient(`http://127.0.0.1:${port}`, FLEET_ADMIN_TOKEN), port };
        f.members.push(member);
        proc.start();
        await member.client.waitHealthy(60000);
      }
    } catch (err) {
      await f.close();
      throw err;
    }
    return f;
  }

  env(): Record<string, string> {
    return {
      DATA_DIR: this.dataDir,
      REDIS_URL: this.opts.redisUrl,
      REDIS_PREFIX: this.opts.redisPrefix,
      EVENTSTORE_URL: this.opts.eventStoreUrl,
      AUTH_TOKENS: `admin:${FLEET_ADMIN_TOKEN}`,
      LOG_LEVEL: process.env.FLEET_LOG_LEVEL ?? 'warn',
      JOB_BACKOFF_MS: '200',
      SHUTDOWN_GRACE_MS: '3000',
      SEAL_EVERY_MS: '0',
      SEAL_EVERY_EVENTS: '0',
      ...this.opts.env,
    };
  }

  /** The processes still running. */
  get alive(): ApiMember[] {
    return this.members.filter((m) => m.proc.running);
  }

  /** Each running process's lease as its /health tells it. */
  async leases(): Promise<Array<{ member: ApiMember; lease: LeaseView | undefined }>> {
    return Promise.all(
      this.alive.map(async (member) => {
        const h = await member.client.call('GET', '/health', undefined, 3000);
        const details = h.body.details as { subscriptions?: { lease?: LeaseView } } | undefined;
        return { member, lease: details?.subscriptions?.lease };
      }),
    );
  }

  /** The running process that says it owns the lease (undefined while none does). */
  async owner(): Promise<ApiMember | undefined> {
    const owners = (await this.leases()).filter((l) => l.lease?.owner);
    return owners.length === 1 ? owners[0]!.member : undefined;
  }

  async registerHost(name: string, uri: string, vcpus = 256): Promise<string> {
    const id = `${name}-${randomUUID().slice(0, 6)}`;
    const r = await this.members[0]!.client.post('/v1/hosts', {
      id,
      name,
      driver: 'simulated',
      uri,
      capacity: { vcpus, memoryMiB: 256 * 1024 },
    });
    if (r.status !== 201) throw new Error(`register host ${name}: ${r.status} ${JSON.stringify(r.body)}`);
    return id;
  }

  /** A worker process (ROLE=worker) serving `hostIds`. */
  startWorker(name: string, hostIds: string[]): NodeProc {
    const w = new NodeProc({
      name,
      env: { ...this.env(), ROLE: 'worker', WORKER_HOSTS: hostIds.join(',') },
      ...(this.opts.nodeArgs ? { nodeArgs: this.opts.nodeArgs } : {}),
      logFile: join(this.workDir, `${name}.log`),
    });
    this.workers.set(name, w);
    w.start();
    return w;
  }

  hostStorage(hostId: string): string {
    return join(this.dataDir, 'hosts', hostId);
  }

  async close(keep = false): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop(5000)));
    await Promise.all(this.members.map((m) => m.proc.stop(5000)));
    if (!keep && !process.env.CHAOS_KEEP) rmSync(this.workDir, { recursive: true, force: true });
  }
}
