import type { Redis } from 'ioredis';

/** A finished request's answer, replayed for the same key and request. */
export interface StoredAnswer {
  state: 'pending' | 'done';
  hash: string;
  status?: number;
  location?: string;
  body?: unknown;
}

/** Held while its request runs; `release` after `complete` is a no-op. */
export interface IdempotencyClaim {
  complete(answer: StoredAnswer): Promise<void>;
  release(): Promise<void>;
}

/**
 * Where Idempotency-Key claims and answers live. A claim is held as long as
 * its request runs (renewed before it can expire), so a slow request can never
 * run a second time under the same key; a process that dies mid-request stops
 * renewing and the key is free again after `claimMs`.
 */
export interface IdempotencyStore {
  claim(scope: string, key: string, hash: string): Promise<IdempotencyClaim | undefined>;
  get(scope: string, key: string): Promise<StoredAnswer | undefined>;
}

const ANSWER_TTL_S = 24 * 3600;

// Renew/release only the claim we hold: after a lost renewal another request may own the key.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (scope: string, key: string) => string,
    private readonly claimMs: number,
    private readonly onRenewFailure: (err: unknown) => void = () => undefined,
  ) {}

  async get(scope: string, key: string): Promise<StoredAnswer | undefined> {
    const raw = await this.redis.get(this.keyOf(scope, key));
    return raw ? (JSON.parse(raw) as StoredAnswer) : undefined;
  }

  async claim(scope: string, key: string, hash: string): Promise<IdempotencyClaim | undefined> {
    const redisKey = this.keyOf(scope, key);
    // A nonce makes the pending value ours alone, so renew and release cannot touch another's claim.
    const pending = JSON.stringify({ state: 'pending', hash, nonce: Math.random().toString(36).slice(2) });
    const ok = await this.redis.set(redisKey, pending, 'PX', this.claimMs, 'NX');
    if (!ok) return undefined;
    const renew = setInterval(
      () =>
        void this.redis.eval(RENEW, 1, redisKey, pending, String(this.claimMs)).catch((err: unknown) => {
          this.onRenewFailure(err);
        }),
      Math.max(10, Math.floor(this.claimMs / 3)),
    );
    renew.unref();
    let held = true;
    return {
      complete: async (answer) => {
        if (!held) return;
        clearInterval(renew);
        await this.redis.set(redisKey, JSON.stringify(answer), 'EX', ANSWER_TTL_S);
        held = false;
      },
      // Also after a failed complete: the pending claim must not outlive its request.
      release: async () => {
        if (!held) return;
        held = false;
        clearInterval(renew);
        await this.redis.eval(RELEASE, 1, redisKey, pending);
      },
    };
  }
}
