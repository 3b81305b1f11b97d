/**
 * The rate-limit counters the guard asks once per request: every window of one
 * request in one call (at most one Redis round trip), stopping at the first window
 * past its limit, the same answers from Redis and from memory; Redis leases a share
 * of the limit to each process, so several processes never serve past the limit
 * together; the Redis counter works on a Redis that never saw its script (a restart,
 * SCRIPT FLUSH).
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { FixedWindowStorage } from '../../src/http/fixed-window.storage.js';
import { RedisFixedWindowStorage } from '../../src/http/redis-fixed-window.storage.js';
import type { RateCounter, RateWindow } from '../../src/http/rate-windows.js';
import { freePort } from '../../src/runtime/free-port.js';
import { startPrivateRedis, type PrivateRedis } from '../../src/runtime/private-redis.js';
import { tempDir } from '../support/env.js';
import { redisForTest } from '../support/redis-for-test.js';

const SECOND: RateWindow = { name: 'second', ttlMs: 1000, limit: 3 };
const MINUTE: RateWindow = { name: 'minute', ttlMs: 60000, limit: 5 };

/** The answers to `n` hits of one tracker: 'ok', or the refusing window's name and Retry-After. */
async function hits(counter: RateCounter, tracker: string, windows: RateWindow[], n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await counter.hit(tracker, windows);
    out.push(r ? `${r.window.name} ${r.retryAfterS}` : 'ok');
  }
  return out;
}

describe('rate-limit counters: Redis (shared) and memory', () => {
  const own = redisForTest('vlrlc');
  const { redis, prefix } = own;
  const counters = (): Array<[string, RateCounter]> => [
    ['redis', new RedisFixedWindowStorage(redis, (w, t) => `${prefix}:ratelimit:${w}:${t}`)],
    ['memory', new FixedWindowStorage()],
  ];

  after(() => own.cleanup());

  for (const [kind, index] of [
    ['redis', 0],
    ['memory', 1],
  ] as const) {
    test(`${kind}: the burst window refuses first, and a refused hit is not counted in the later window`, async () => {
      const counter = counters()[index]![1];
      const tracker = `principal ${kind}-burst`;
      const answers = await hits(counter, tracker, [{ ...SECOND, ttlMs: 60000 }, MINUTE], 5);
      assert.deepEqual(answers, ['ok', 'ok', 'ok', 'second 60', 'second 60']);
      // Only the three served requests were counted per minute: two more pass it once the burst window is gone.
      const answersMinute = await hits(counter, tracker, [MINUTE], 3);
      assert.deepEqual(answersMinute, ['ok', 'ok', 'minute 60']);
    });

    test(`${kind}: each tracker has its own budget, and one window alone works`, async () => {
      const counter = counters()[index]![1];
      assert.deepEqual(await hits(counter, `ip ${kind}-a`, [MINUTE], 6), ['ok', 'ok', 'ok', 'ok', 'ok', 'minute 60']);
      assert.deepEqual(await hits(counter, `ip ${kind}-b`, [MINUTE], 1), ['ok']);
    });
  }

  /** The commands `fn` sends on the test's connection. */
  async function commandsOf(fn: () => Promise<void>): Promise<string[]> {
    const sent: string[] = [];
    const original = redis.sendCommand.bind(redis);
    redis.sendCommand = ((cmd: { name: string }) => {
      sent.push(cmd.name);
      return original(cmd as never);
    }) as typeof redis.sendCommand;
    try {
      await fn();
    } finally {
      redis.sendCommand = original;
    }
    return sent;
  }

  test('redis, leases of a tenth of the limit: one round trip per lease, and exactly the limit served', async () => {
    const counter = new RedisFixedWindowStorage(redis, (w, t) => `${prefix}:ratelimit:${w}:${t}`, undefined, 0.1);
    const window: RateWindow = { name: 'minute', ttlMs: 60000, limit: 50 };
    let answers: string[] = [];
    const sent = await commandsOf(async () => {
      answers = await hits(counter, 'principal leased', [window], 51);
    });
    assert.deepEqual(answers, [...Array<string>(50).fill('ok'), 'minute 60']);
    assert.equal(sent.length, 11, `ten leases of five and the refusal: ${sent.join(' ')}`);
    assert.equal(await redis.get(`${prefix}:ratelimit:minute:principal leased`), '50');
  });

  test('redis: two processes leasing from one budget never serve past it together', async () => {
    const keyOf = (w: string, t: string) => `${prefix}:ratelimit:${w}:${t}`;
    const a = new RedisFixedWindowStorage(redis, keyOf, undefined, 0.25);
    const b = new RedisFixedWindowStorage(redis, keyOf, undefined, 0.25);
    const window: RateWindow = { name: 'minute', ttlMs: 60000, limit: 20 };
    let served = 0;
    for (let i = 0; i < 60; i++) if (!(await (i % 3 === 0 ? a : b).hit('principal two', [window]))) served++;
    assert.ok(served <= 20, `served ${served} of a budget of 20`);
    // What one process leased and did not serve is at most one lease short of five.
    assert.ok(served >= 16, `served ${served}: more lost to leases than one lease`);
  });

  test('redis: concurrent requests of one client wait for the lease in flight rather than each ask', async () => {
    const counter = new RedisFixedWindowStorage(redis, (w, t) => `${prefix}:ratelimit:${w}:${t}`, undefined, 0.01);
    const window: RateWindow = { name: 'minute', ttlMs: 60000, limit: 1000 };
    let answers: Array<unknown> = [];
    const sent = await commandsOf(async () => {
      answers = await Promise.all(Array.from({ length: 32 }, () => counter.hit('principal many', [window])));
    });
    assert.deepEqual(new Set(answers), new Set([undefined]));
    assert.equal(sent.length, 4, `leases of 10 for 32 requests: ${sent.join(' ')}`);
  });

  test('redis: every window of a request is one round trip (one command on the connection)', async () => {
    const counter = new RedisFixedWindowStorage(redis, (w, t) => `${prefix}:ratelimit:${w}:${t}`);
    await counter.hit('principal warm', [SECOND, MINUTE]); // the script is known to Redis from here on
    const sent = await commandsOf(async () => {
      assert.equal(await counter.hit('principal rt', [SECOND, MINUTE]), undefined);
    });
    assert.deepEqual(sent, ['evalsha']);
    assert.equal(await redis.get(`${prefix}:ratelimit:second:principal rt`), '1');
    assert.equal(await redis.get(`${prefix}:ratelimit:minute:principal rt`), '1');
    const ttl = await redis.pttl(`${prefix}:ratelimit:minute:principal rt`);
    assert.ok(ttl > 0 && ttl <= 60000, `the minute window expires: pttl ${ttl}`);
  });
});

describe('rate-limit counter on a Redis that does not know its script', () => {
  let priv: PrivateRedis;
  let redis: Redis;
  const dir = tempDir('vl-rlc-');

  before(async () => {
    priv = await startPrivateRedis(dir.dir, pino({ level: 'silent' }));
    redis = new Redis(priv.url);
  });
  after(async () => {
    redis?.disconnect();
    await priv?.stop();
    dir.cleanup();
  });

  test('a fresh Redis, then SCRIPT FLUSH: the hits are still counted and refused past the limit', async () => {
    const errors: unknown[] = [];
    const counter = new RedisFixedWindowStorage(
      redis,
      (w, t) => `rl:${w}:${t}`,
      (err) => errors.push(err),
    );
    assert.deepEqual(await hits(counter, 'principal p', [MINUTE], 2), ['ok', 'ok']);
    await redis.script('FLUSH');
    assert.deepEqual(await hits(counter, 'principal p', [MINUTE], 4), ['ok', 'ok', 'ok', 'minute 60']);
    assert.equal(await redis.get('rl:minute:principal p'), '5', 'the five served; the refused one took nothing');
    assert.deepEqual(errors, [], 'counted in Redis all along, never in memory');
  });

  test('a counter left without an expiry gets one when it refuses, so the client is not refused for good', async () => {
    const counter = new RedisFixedWindowStorage(redis, (w, t) => `rl:${w}:${t}`);
    await redis.set('rl:minute:principal stuck', '99');
    assert.deepEqual(await hits(counter, 'principal stuck', [MINUTE], 1), ['minute 60']);
    const ttl = await redis.pttl('rl:minute:principal stuck');
    assert.ok(ttl > 0 && ttl <= 60000, `pttl ${ttl}`);
  });

  test('Redis down: the process counts in its own memory meanwhile and says so once', async () => {
    const errors: unknown[] = [];
    // Nothing listens on that port: every command fails at once.
    const down = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    down.on('error', () => undefined);
    const counter = new RedisFixedWindowStorage(
      down,
      (w, t) => `rl:${w}:${t}`,
      (err) => errors.push(err),
    );
    assert.deepEqual(await hits(counter, 'principal q', [{ ...MINUTE, limit: 2 }], 3), ['ok', 'ok', 'minute 60']);
    assert.equal(errors.length, 1);
    assert.equal(await redis.get('rl:minute:principal q'), null);
    down.disconnect();
  });
});
