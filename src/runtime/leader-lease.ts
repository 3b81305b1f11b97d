import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { LeaseRenewalThread } from './lease-renewal-thread.js';
import { RENEW, renewEveryMs, trustMs } from './lease-renewal.shared.js';
import type { RedisEndpoint } from './redis-connection.js';

/**
 * Takes the lease when it is free: the fencing token comes from a counter that
 * only ever grows, so a token names one tenure and a later owner always holds a
 * larger one. Returns the token, or nil when someone holds the lease.
 */
const ACQUIRE = `
if redis.call('exists', KEYS[1]) == 1 then return false end
local token = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], ARGV[1] .. '|' .. token, 'PX', ARGV[2])
return token`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** A Redis that answers nothing must not pile up renewals: the owner lets go 2/3 ttl after the last answer anyway. */
const MAX_RENEWALS_IN_FLIGHT = 8;

export interface LeaseEvents {
  /** This process now owns the lease with `token` (start the roles). */
  acquired(token: number): Promise<void> | void;
  /** The lease is gone (renewal refused, or Redis silent past the safe margin): stop the roles now. */
  lost(reason: string): Promise<void> | void;
}

export interface LeaderLeaseOptions {
  /** Redis key of the lease; `<key>:fence` holds the token counter. */
  key: string;
  ttlMs: number;
  log: Logger;
  /**
   * Renew also from a thread of its own, on its own connection to this Redis (lease-renewal.worker.ts),
   * besides the main loop: what the control plane does. Without it (a test's proxied or cut-off client)
   * only the main loop renews, through `redis`.
   */
  renewFrom?: RedisEndpoint;
  /** With `renewFrom`: the thread stops renewing once the main loop has not turned for this long (default 3 × TTL). */
  maxStallMs?: number;
}

/**
 * One owner at a time across every process sharing a Redis: a key with a TTL,
 * renewed by its owner every ttl/12, taken by a standby (which tries as often)
 * once it expires. An owner that cannot renew stops believing it owns
 * the lease *before* the key can expire (at 2/3 of the TTL after the last
 * successful renewal, measured on its own clock from before it sent it), so
 * two owners never overlap while both clocks run at the same rate. A kill -9'd
 * owner is replaced within ttl + ttl/12.
 *
 * Why renew that often, without waiting for the renewal before: each answered renewal
 * trusts the lease until its own send time + 2/3 ttl, so what an owner survives is a gap
 * of ~2/3 ttl between the sends of two answered renewals. Renewing once per ttl/3, one at a
 * time, a busy event loop (under load the reply of a renewal waits its turn behind every
 * request) lost the lease with answers 0.5–1 s late at the default 3 s TTL; the roles
 * (projections, sagas) stopped and restarted, and the read models fell seconds behind.
 *
 * Why a renewal thread (`renewFrom`): no schedule on the main loop survives the loop not
 * turning for 2/3 ttl (a full GC of a big heap, a starved core under a load average of 20):
 * the renewals are not even sent. The thread keeps sending them while the main loop shows
 * signs of life within `maxStallMs`, and the main thread reads the resulting trust deadline
 * from shared memory; the loop keeps renewing too (the later of the two deadlines counts),
 * so a thread still loading or dead costs nothing against renewing on the loop alone.
 * Still one owner: the key is renewed only while it holds this tenure's value, an owner
 * trusts each renewal for 2/3 ttl from its send, and a wedged main loop stops the
 * renewals (a standby takes over within maxStallMs + ttl).
 */
export class LeaderLease {
  readonly holder = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private token: number | undefined;
  /** Local deadline after which this process no longer trusts its ownership. */
  private trustUntil = 0;
  private busy = false;
  /** Renewals sent and not yet answered: several may be on their way (see above), a few at most. */
  private renewing = 0;
  private stopped = true;
  /** Serialises acquired/lost so a role never starts while it is still stopping. */
  private transitions: Promise<void> = Promise.resolve();
  private readonly thread: LeaseRenewalThread | undefined;
  /** When a tick last ran (Date.now()): a check of the ownership happened after this instant. */
  private tickedAt = 0;

  constructor(
    private readonly redis: Redis,
    private readonly options: LeaderLeaseOptions,
    private readonly events: LeaseEvents,
  ) {
    const { renewFrom, key, ttlMs, maxStallMs, log } = options;
    if (renewFrom) this.thread = new LeaseRenewalThread(renewFrom, key, ttlMs, maxStallMs ?? 3 * ttlMs, log);
  }

  /** The fencing token of the current tenure; undefined while this process is a standby. */
  get fence(): number | undefined {
    return this.token;
  }

  /** When this process last checked whether it may still trust its ownership (its loop turned). */
  get lastTickAt(): number {
    return this.tickedAt;
  }

  /** Until when the renewal thread's answered renewals let this tenure trust the lease (undefined: no thread or tenure). */
  get threadTrustUntil(): number | undefined {
    return this.token === undefined ? undefined : this.thread?.trustFor(this.token);
  }

  get isOwner(): boolean {
    return this.token !== undefined;
  }

  /** What a fenced write checks (the lease key still holding this tenure's value); undefined while a standby. */
  commitFence(): { key: string; value: string } | undefined {
    const value = this.value();
    return value ? { key: this.options.key, value } : undefined;
  }

  get fenceKey(): string {
    return `${this.options.key}:fence`;
  }

  /** Who holds the lease now (`host/pid/nonce|token`), as Redis says. */
  owner(): Promise<string | null> {
    return this.redis.get(this.options.key);
  }

  /** Tries once at once (a lone process owns from its first tick), then keeps trying or renewing. */
  async start(): Promise<void> {
    this.stopped = false;
    // Started before the first tenure: loading the thread takes a while, its renewals should be there early.
    this.thread?.start();
    await this.tick();
    await this.transitions;
    const every = renewEveryMs(this.options.ttlMs);
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
  }

  /** Gives the lease back (orderly shutdown): a standby takes it at its next try instead of after the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    const value = this.value();
    if (value) {
      await this.lose('shutting down');
      await this.redis.eval(RELEASE, 1, this.options.key, value).catch(() => undefined);
    }
    await this.transitions;
    await this.thread?.close();
  }

  private value(): string | undefined {
    return this.token === undefined ? undefined : `${this.holder}|${this.token}`;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.tickedAt = Date.now();
    this.thread?.beat();
    const token = this.token;
    if (token !== undefined && this.thread?.refused(token))
      return void (await this.lose('another process holds the lease'));
    // Checked before anything waits on Redis: a renewal hanging on a dead connection must not keep the roles running.
    if (token !== undefined && Date.now() > Math.max(this.trustUntil, this.thread?.trustFor(token) ?? 0))
      return void (await this.lose('could not renew in time'));
    const value = this.value();
    // Renewed on this loop too, with or without the thread: while the thread starts (a worker takes a while to
    // load on a busy machine) or if it died, the loop's renewals still hold the lease as they did without it.
    if (value) return this.renew(value);
    if (this.busy) return;
    this.busy = true;
    const sentAt = Date.now();
    const { ttlMs } = this.options;
    try {
      const got = await this.redis.eval(ACQUIRE, 2, this.options.key, this.fenceKey, this.holder, ttlMs);
      if (typeof got !== 'number' || this.stopped) return;
      this.token = got;
      this.trustUntil = sentAt + trustMs(ttlMs);
      this.thread?.renew(got, this.value()!);
      this.options.log.info({ lease: this.options.key, fence: got, holder: this.holder }, 'lease acquired');
      this.transition(async () => {
        try {
          await this.events.acquired(got);
        } catch (err) {
          // Roles that could not start (the store down, say) must not sit on the lease: give it back, retry later.
          this.options.log.error({ err, fence: got }, 'starting the roles failed; giving the lease back');
          const held = this.value();
          this.token = undefined;
          this.thread?.stopRenewing();
          await this.events.lost('starting the roles failed');
          if (held) await this.redis.eval(RELEASE, 1, this.options.key, held).catch(() => undefined);
        }
      });
    } catch (err) {
      // Redis unreachable: a standby tries again at its next tick.
      this.options.log.debug({ err }, 'lease tick failed');
    } finally {
      this.busy = false;
    }
  }

  /** One renewal; the ticks after it send theirs without waiting for its answer. */
  private async renew(value: string): Promise<void> {
    if (this.renewing >= MAX_RENEWALS_IN_FLIGHT) return;
    this.renewing++;
    const sentAt = Date.now();
    const { ttlMs } = this.options;
    try {
      const ok = await this.redis.eval(RENEW, 1, this.options.key, value, ttlMs);
      // An answer that arrives after the local deadline extends nothing: the roles are already stopping.
      if (this.value() !== value) return;
      // Answers may come out of order of their sends only across reconnections: an older one never shortens the trust.
      if (ok === 1) this.trustUntil = Math.max(this.trustUntil, sentAt + trustMs(ttlMs));
      else await this.lose('another process holds the lease');
    } catch (err) {
      // Redis unreachable: the owner keeps its roles until its local deadline (checked every tick), then lets go.
      this.options.log.debug({ err }, 'lease renewal failed');
    } finally {
      this.renewing--;
    }
  }

  private async lose(reason: string): Promise<void> {
    if (this.token === undefined) return;
    const fence = this.token;
    this.token = undefined;
    this.thread?.stopRenewing();
    this.options.log.warn({ lease: this.options.key, fence, reason }, 'lease lost; stopping the roles it guards');
    this.transition(() => this.events.lost(reason));
    await this.transitions;
  }

  private transition(fn: () => Promise<void> | void): void {
    this.transitions = this.transitions
      .then(fn)
      .catch((err: unknown) => this.options.log.error({ err }, 'lease transition failed'));
  }
}
