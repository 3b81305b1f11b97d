import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ProjectionRunner } from '../projections/projection-runner.js';

/** How often the owner looks for pause requests, and a requester for the owner's answer. */
const POLL_MS = 50;
/**
 * How often the owner looks while its signal subscription is up: every step of a pause is announced
 * there, and a subscription that comes back after a drop looks at once (messages sent meanwhile are
 * lost), so the look is only the fallback for what a live subscription could still miss. At 50 ms it
 * was an `MGET` round trip 20 times a second on every owner, the largest item of an idle owner's
 * profile and about 0.2–0.7 of a round trip per create in the create bench.
 */
const SUBSCRIBED_POLL_MS = 1000;

/** Redis keys of the cluster-wide pause of one read model's runner. */
export class PauseKeys {
  constructor(private readonly prefix: string) {}
  /** Set by whoever needs the runner stopped (a rebuild's swap, a replay check): the request id, with a TTL. */
  request = (projection: string) => `${this.prefix}:cluster:pause:${projection}`;
  /** Set by the owner once its runner has stopped for that request: the same id. */
  ack = (projection: string) => `${this.prefix}:cluster:paused:${projection}`;
  /** Where a request, an answer and a release are announced (PauseSignals). */
  signal = () => `${this.prefix}:cluster:pause-signal`;
}

/**
 * Announces each step of the pause handshake (a request set, an answer given, a request
 * released) on a Redis channel, so the other side looks at once instead of at its next
 * poll: a replay check pauses every read model in turn, and two polls of 50 ms per pause
 * were most of its wait. The keys stay the truth: a message lost costs the owner's next
 * look (every second while subscribed, every 50 ms while not; a subscription that comes
 * back looks at once), and failover still rests on the keys alone.
 */
export class PauseSignals {
  private readonly listeners = new Set<() => void>();
  private readonly sub: Redis;
  private subscribed = false;
  /** Resolves once subscribed (a signal sent before is not heard: the polls cover it). */
  readonly ready: Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly keys: PauseKeys,
  ) {
    // Named, so that an operator (and a test) can tell this connection in CLIENT LIST. The process's
    // client connects lazily and refuses commands while not connected (enableOfflineQueue: false); a
    // duplicate inherits both, so its SUBSCRIBE, sent before the connection was up, was refused and
    // the signals were never heard: this connection connects at once and holds the SUBSCRIBE until up.
    this.sub = redis.duplicate({
      connectionName: `${keys.signal()}:sub`,
      lazyConnect: false,
      enableOfflineQueue: true,
    });
    this.sub.on('message', () => this.wakeAll());
    // Whatever was announced while the connection was down is lost: once it is subscribed again,
    // listeners look as they would for a signal. ioredis reports ready before it sends its own
    // SUBSCRIBE again, so this one's answer (same connection, in order) is when that has happened.
    let dropped = false;
    this.sub.on('close', () => {
      this.subscribed = false;
      dropped = true;
    });
    this.sub.on('ready', () => {
      if (!dropped) return;
      dropped = false;
      this.sub.subscribe(keys.signal()).then(
        () => {
          this.subscribed = true;
          this.wakeAll();
        },
        () => undefined,
      );
    });
    // Not awaited: a Redis down at start only means polls until it is back (ioredis resubscribes).
    this.ready = this.sub.subscribe(keys.signal()).then(
      () => void (this.subscribed = true),
      () => undefined,
    );
  }

  /** True while the subscription is up: a step announced now is heard. */
  get live(): boolean {
    return this.subscribed && this.sub.status === 'ready';
  }

  private wakeAll(): void {
    for (const l of [...this.listeners]) l();
  }

  notify(): void {
    this.redis.publish(this.keys.signal(), '1').catch(() => undefined);
  }

  /** Calls `fn` on every signal; returns how to stop. */
  on(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves at the next signal or after `ms`, whichever comes first. Register before looking, so none is missed. */
  next(ms: number): { done: Promise<void>; cancel: () => void } {
    let wake: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const timer = setTimeout(wake, ms);
    const off = this.on(wake);
    // Whatever settles it (a signal, the time, a cancel), the timer and the listener go.
    void done.finally(() => {
      clearTimeout(timer);
      off();
    });
    return { done, cancel: wake };
  }

  close(): void {
    this.listeners.clear();
    this.sub.disconnect();
  }
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
  /** The request each runner was last answered for: announced once, not at every look. */
  private readonly answered = new Map<string, string>();
  private offSignal: (() => void) | undefined;
  /** Moves at each own(): a look still in flight from an earlier ownership schedules nothing. */
  private term = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: PauseKeys,
    private readonly runners: ProjectionRunner[],
    private readonly log: Logger,
    private readonly signals?: PauseSignals,
    private readonly pollMs = POLL_MS,
    private readonly subscribedPollMs = Math.max(pollMs, SUBSCRIBED_POLL_MS),
  ) {}

  /** How long until the next look: long while the signals are heard, short otherwise. */
  get lookEveryMs(): number {
    return this.signals?.live ? this.subscribedPollMs : this.pollMs;
  }

  isRunning(name: string): boolean {
    return this.running.has(name);
  }

  /** This process became the owner: start what is not paused, and keep watching. */
  async own(): Promise<void> {
    this.owner = true;
    this.offSignal = this.signals?.on(() => void this.sync().catch(() => undefined));
    const term = ++this.term;
    await this.sync();
    this.schedule(term);
  }

  /** The next look, timed when the last one is done (the interval follows the subscription's state). */
  private schedule(term: number): void {
    if (!this.owner || term !== this.term) return;
    this.timer = setTimeout(() => {
      void this.sync()
        .catch(() => undefined)
        .finally(() => this.schedule(term));
    }, this.lookEveryMs);
    this.timer.unref();
  }

  /** Shutdown, after disown: the signal connection closes. */
  close(): void {
    this.signals?.close();
  }

  /** The lease is gone (or shutdown): stop every runner now. */
  async disown(): Promise<void> {
    this.owner = false;
    this.offSignal?.();
    this.offSignal = undefined;
    clearTimeout(this.timer);
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
        if (this.answered.get(name) !== request) this.signals?.notify();
        this.answered.set(name, request);
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
  {
    ttlMs = 15_000,
    waitMs = 30_000,
    signals,
    pollMs = POLL_MS,
  }: { ttlMs?: number; waitMs?: number; signals?: PauseSignals; pollMs?: number } = {},
): Promise<T> {
  const id = randomUUID();
  await redis.set(keys.request(projection), id, 'PX', ttlMs);
  signals?.notify();
  const renew = setInterval(
    () => void redis.pexpire(keys.request(projection), ttlMs).catch(() => undefined),
    ttlMs / 3,
  );
  renew.unref();
  try {
    const deadline = Date.now() + waitMs;
    for (;;) {
      // Listening before looking: an answer given between the look and the wait still wakes it.
      const next = signals?.next(pollMs);
      // Read the owner after the request is set: an owner elected later sees the request before it starts the runner.
      const [ack, owner] = await Promise.all([redis.get(keys.ack(projection)), leaseOwner()]);
      if (ack === id || owner === null) {
        next?.cancel();
        break;
      }
      if (Date.now() >= deadline) {
        next?.cancel();
        throw new Error(`the runner of projection ${projection} did not pause within ${waitMs} ms (owner ${owner})`);
      }
      await (next ? next.done : new Promise((r) => setTimeout(r, pollMs)));
    }
    return await fn();
  } finally {
    clearInterval(renew);
    await redis.del(keys.request(projection), keys.ack(projection)).catch(() => undefined);
    // The owner starts the runner again at once rather than at its next poll.
    signals?.notify();
  }
}
