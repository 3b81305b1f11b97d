/**
 * An Idempotency-Key claim lasts as long as its request: a request that runs
 * longer than the claim's TTL still holds its key (renewed while it runs), so a
 * retry with the same key is a 409, never a second run; the claim is released
 * when the request ends. The TTL is shortened here instead of waiting 60 s.
 *
 * No clock is read: that the claim outlived its TTL is shown by counting its renewals (each puts its
 * PTTL back up; they are CLAIM_MS / 3 apart), not by waiting a wall-clock span and hoping every
 * renewal ran in time meanwhile. A 300 ms claim lapsed once under heavy load (a renewal held up
 * 200 ms); at 1.5 s a renewal has to be held up a whole second.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { lastValueFrom, from } from 'rxjs';
import { IdempotencyInterceptor } from '../../src/http/idempotency.interceptor.js';
import { RedisIdempotencyStore } from '../../src/http/idempotency.store.js';
import { waitUntil } from '../support/e2e.js';
import { redisForTest } from '../support/redis-for-test.js';
import { waitFor } from '../support/wait.js';

const CLAIM_MS = 1_500;
/** Renewals are CLAIM_MS / 3 apart: after four the claim has outlived the TTL it was set with. */
const RENEWALS_PAST_TTL = 4;

interface FakeResponse {
  statusCode: number;
  headers: Record<string, string>;
  status(code: number): FakeResponse;
  location(url: string): FakeResponse;
  setHeader(name: string, value: string): void;
  getHeader(name: string): string | undefined;
}

function response(): FakeResponse {
  const res: FakeResponse = {
    statusCode: 200,
    headers: {},
    status(code) {
      res.statusCode = code;
      return res;
    },
    location(url) {
      res.headers.location = url;
      return res;
    },
    setHeader(name, value) {
      res.headers[name.toLowerCase()] = value;
    },
    getHeader(name) {
      return res.headers[name.toLowerCase()];
    },
  };
  return res;
}

function context(key: string, res: FakeResponse): ExecutionContext {
  const req = {
    method: 'POST',
    originalUrl: '/v1/vms',
    body: { name: 'slow' },
    headers: { 'idempotency-key': key },
    principal: { id: 'operator#test', role: 'operator' },
  };
  return { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ExecutionContext;
}

/**
 * Waits until the claim under `redisKey` was renewed `times` times, each seen as its PTTL going up
 * (between renewals it only goes down), and fails at once if the claim is gone meanwhile. A look
 * that misses a renewal only makes the wait longer: a rise is never seen without a renewal.
 */
async function renewed(redis: Redis, redisKey: string, times: number): Promise<void> {
  let seen = 0;
  let last = await redis.pttl(redisKey);
  await waitFor(
    async () => {
      const ttl = await redis.pttl(redisKey);
      if (ttl < 0) throw new Error(`the claim is gone after ${seen} renewals (PTTL ${ttl})`);
      if (ttl > last) seen++;
      last = ttl;
      return seen >= times;
    },
    { what: `${times} renewals of the claim`, timeoutMs: 60_000, intervalMs: 20 },
  );
}

describe('api: an Idempotency-Key claim is held while its request runs', () => {
  const own = redisForTest('vlidem', { lazyConnect: true, maxRetriesPerRequest: 1 });
  const { redis, prefix } = own;
  const keyOf = (scope: string, key: string) => own.key(`idem:${scope}:${key}`);
  let interceptor: IdempotencyInterceptor;

  before(async () => {
    await redis.connect();
    interceptor = new IdempotencyInterceptor(new RedisIdempotencyStore(redis, keyOf, CLAIM_MS));
  });
  after(() => own.cleanup());

  test('a request longer than the claim TTL: the same key meanwhile is 409 and runs nothing; then replayed', async () => {
    const key = `slow-${prefix}`;
    let runs = 0;
    let finish!: (body: unknown) => void;
    const slow: CallHandler = {
      handle: () => {
        runs++;
        return from(new Promise((resolve) => (finish = resolve)));
      },
    };
    const firstRes = response();
    const first = lastValueFrom(interceptor.intercept(context(key, firstRes), slow));
    await waitUntil('the first request to run', async () => runs === 1);

    // Held past the TTL it was claimed with: an un-renewed claim would have expired by now.
    await renewed(redis, keyOf('operator#test', key), RENEWALS_PAST_TTL);

    // The retry's handler answers at once: if it ran (the old fixed-TTL claim had expired), the
    // retry would succeed instead of being refused.
    const quick: CallHandler = {
      handle: () => {
        runs++;
        return from(Promise.resolve({ operationId: 'op-2' }));
      },
    };
    const again = lastValueFrom(interceptor.intercept(context(key, response()), quick));
    await assert.rejects(again, (err: Error & { status?: number }) => {
      assert.equal(err.status, 409);
      assert.match(err.message, /still being processed/);
      return true;
    });
    assert.equal(runs, 1, 'the retry did not run the request a second time');

    firstRes.status(202).location('/v1/operations/op-1');
    finish({ operationId: 'op-1' });
    assert.deepEqual(await first, { operationId: 'op-1' });

    const replayRes = response();
    const replay = await lastValueFrom(interceptor.intercept(context(key, replayRes), slow));
    assert.deepEqual(replay, { operationId: 'op-1' });
    assert.equal(replayRes.statusCode, 202);
    assert.equal(replayRes.headers['idempotent-replayed'], 'true');
    assert.equal(runs, 1);
  });

  test('a request that fails releases its key at once: the retry runs', async () => {
    const key = `failing-${prefix}`;
    let runs = 0;
    const failing: CallHandler = {
      handle: () => {
        runs++;
        return from(Promise.reject(new Error('refused')));
      },
    };
    await assert.rejects(lastValueFrom(interceptor.intercept(context(key, response()), failing)), /refused/);
    const ok: CallHandler = {
      handle: () => {
        runs++;
        return from(Promise.resolve({ ok: true }));
      },
    };
    assert.deepEqual(await lastValueFrom(interceptor.intercept(context(key, response()), ok)), { ok: true });
    assert.equal(runs, 2);
  });
});
