import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ProjectionRunner } from '../projections/projection-runner.js';

/** How often the owner looks for pause requests, and a requester for the owner's answer. */
const POLL_MS = 50;

/** Redis keys of the cluster-wide pause of one read model's runner. */
export class PauseKeys {
  constructor(private readonly prefix: string) {}
  /** Set by whoever needs the runner stopped (a rebuild's swap, a replay check): the request id, with a TTL. */
  request = (projection: string) => `${this.prefix}:cluster:pause:${projection}`;
  /** Set by the owner once its runner has stopped for that request: the same id. */
  ack = (projection: string) => `${this.prefix}:cluster:paused:${projection}`;
}

/**
 * The owner's side: runs each projection runner while this process owns the
 * control-plane lease and nobody asked for it to pause; stops it (the page in
 * flight finishes first) and answers when asked, and starts it again from the
 * checkpoint in Redis, which the pauser may have moved (a rebuild's swap), when
 * the request is gone. A newly elected owner looks at the requests before it
 * starts anything, so a pause outlives a failover.
 */
export class ProjectionGate {
  private owner = false;
  private readonly running = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: Redis,
    private readonly keys: PauseKeys,
    private readonly runners: ProjectionRunner[],
    private readonly log: Logger,
  ) {}

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  /** This process became the owner: start what is not paused, and keep watching. */
  async own(): Promise<void> {
    this.owner = true;
    await this.sync();
    this.timer = setInterval(() => void this.sync().catch(() => undefined), POLL_MS);
    this.timer.unref();
  }

  /** The lease is gone (or shutdown): stop every runner now. */
  async disown(): Promise<void> {
    this.owner = false;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.syncing.catch(() => undefined);
    await Promise.all(
      this.runners.map(async (r) => {
        this.running.delete(r.projection.name);
        await r.stop().catch(() => undefined);
      }),
    );
  }

  /** Looks at the pause requests once and brings each runner to what they say. */
  sync(): Promise<void> {
    this.syncing = this.syncing.catch(() => undefined).then(() => this.syncOnce());
    return this.syncing;
  }

  private async syncOnce(): Promise<void> {
    if (!this.owner) return;
    const names = this.runners.map((r) => r.projection.name);
    const requests = await this.redis.mget(...names.map((n) => this.keys.request(n)));
    for (const [i, runner] of this.runners.entries()) {
      if (!this.owner) return;
      const name = names[i]!;
      const request = requests[i];
      if (request && this.running.has(name)) {
        this.running.delete(name);
        await runner.stop();
        this.log.info({ projection: name, request }, 'projection paused for another process');
      }
      if (request) {
        await this.redis.set(this.keys.ack(name), request, 'PX', 60_000);
      } else if (!this.running.has(name)) {
        try {
          await runner.start();
          this.running.add(name);
        } catch (err) {
          // Redis down between two looks: the next look starts it.
          this.log.warn({ err, projection: name }, 'projection did not start; retrying');
          await runner.stop().catch(() => undefined);
        }
      }
    }
  }
}

/**
 * The requester's side, on any process: asks the owner (whichever process it
 * is, this one included) to stop the runner of `projection`, waits until it
 * did (or until there is no owner: the next one sees the request before
 * starting), runs `fn`, and lets the runner go on. The request expires on its
 * own if this process dies, so a crashed rebuild cannot freeze a read model.
 */
export async function pausedAcrossCluster<T>(
  redis: Redis,
  keys: PauseKeys,
  projection: string,
  leaseOwner: () => Promise<string | null>,
  fn: () => Promise<T>,
  { ttlMs = 15_000, waitMs = 30_000 }: { ttlMs?: number; waitMs?: number } = {},
): Promise<T> {
  const id = randomUUID();
  await redis.set(keys.request(projection), id, 'PX', ttlMs);
  const renew = setInterval(
    () => void redis.pexpire(keys.request(projection), ttlMs).catch(() => undefined),
    ttlMs / 3,
  );
  renew.unref();
  try {
    const deadline = Date.now() + waitMs;
    for (;;) {
      // Read the owner after the request is set: an owner elected later sees the request before it starts the runner.
      const [ack, owner] = await Promise.all([redis.get(keys.ack(projection)), leaseOwner()]);
      if (ack === id || owner === null) break;
      if (Date.now() >= deadline)
        throw new Error(`the runner of projection ${projection} did not pause within ${waitMs} ms (owner ${owner})`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return await fn();
  } finally {
    clearInterval(renew);
    await redis.del(keys.request(projection), keys.ack(projection)).catch(() => undefined);
  }
}
