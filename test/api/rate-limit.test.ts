/**
 * Per-principal rate limit (RATE_LIMIT_PER_MINUTE, RATE_LIMIT_BURST): 429 with
 * Retry-After and the v1 error body; a valid token is limited as its principal,
 * anything else by IP (so token guessing is limited too); refused requests append
 * nothing; public routes are never limited.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { logLength, settledLogLength, startTestApp, TOKENS, type TestApp } from '../support/app.js';
import { assertError, registerSimHost } from '../support/e2e.js';

describe('e2e: rate limit per minute, per principal', () => {
  let t: TestApp;
  const LIMIT = 5;

  before(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT), RATE_LIMIT_BURST: '0' } });
  });
  after(async () => {
    await t?.close();
  });

  test('the request past the limit is 429 with Retry-After and the v1 error body, naming the principal', async () => {
    for (let i = 0; i < LIMIT; i++) assert.equal((await t.as('viewer').get('/v1/vms')).status, 200, `request ${i}`);
    const res = await t.as('viewer').get('/v1/vms');
    assertError(res, 429);
    assert.equal(res.body.error, 'Too Many Requests');
    const retryAfter = Number(res.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.match(
      res.body.message as string,
      /rate limit exceeded for viewer#[0-9a-f]{8}: at most 5 requests per minute/,
    );
    assert.ok(!JSON.stringify(res.body).includes(TOKENS.viewer), 'the token must not be echoed');
  });

  test('the budget is per principal: other tokens are not affected, and it covers every route', async () => {
    assert.equal((await t.as('auditor').get('/v1/events')).status, 200);
    // The viewer is over its budget on every route, not only the one it used.
    assertError(await t.as('viewer').get('/v1/hosts'), 429);
    assertError(await t.as('viewer').get('/v1/operations'), 429);
  });

  test('a throttled mutation appends nothing', async () => {
    await registerSimHost(t, 'hv-1');
    const body = { name: 'flood', vcpus: 1, memoryMiB: 64, diskGiB: 1, start: false };
    // Spend the operator's budget on reads, then try to create.
    for (let i = 0; i < LIMIT; i++) await t.as('operator').get('/v1/vms');
    const before = await settledLogLength(t);
    const res = await t.as('operator').post('/v1/vms', body);
    assertError(res, 429);
    assert.equal(await logLength(t), before);
  });

  test('requests without a valid token are limited by IP, so token guessing stops at the limit', async () => {
    for (let i = 0; i < LIMIT; i++) {
      const res = await t.http().get('/v1/vms').set('Authorization', `Bearer guess-${i}-0123456789abcdef`);
      assertError(res, 401);
    }
    const res = await t.http().get('/v1/vms').set('Authorization', `Bearer ${TOKENS.admin}x`);
    assertError(res, 429);
    assert.match(res.body.message as string, /rate limit exceeded for ip /);
    assertError(await t.http().get('/v1/vms'), 429);
    // The admin's own budget is untouched by the guessing from its IP.
    assert.equal((await t.as('admin').get('/v1/vms')).status, 200);
  });

  test('public routes (/health, /metrics) are never limited', async () => {
    for (let i = 0; i < LIMIT * 3; i++) {
      assert.equal((await t.http().get('/health')).status, 200);
      assert.equal((await t.http().get('/metrics')).status, 200);
    }
  });
});

describe('e2e: burst limit (per second)', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0', RATE_LIMIT_BURST: '3' } });
  });
  after(async () => {
    await t?.close();
  });

  test('past the burst is 429 with Retry-After: 1, and the client is served again once it passed', async () => {
    let refused: Awaited<ReturnType<ReturnType<TestApp['as']>['get']>> | undefined;
    // Within one second window at most 3 pass; send until one is refused (a window may close mid-loop).
    for (let i = 0; i < 50 && !refused; i++) {
      const res = await t.as('operator').get('/v1/hosts');
      if (res.status === 429) refused = res;
      else assert.equal(res.status, 200);
    }
    assert.ok(refused, 'no request was refused');
    assertError(refused, 429);
    assert.equal(refused.headers['retry-after'], '1');
    assert.match(refused.body.message as string, /at most 3 requests per second/);
    await sleep(1100);
    assert.equal((await t.as('operator').get('/v1/hosts')).status, 200);
  });
});

describe('e2e: rate limit off', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '0', RATE_LIMIT_BURST: '0' } });
  });
  after(async () => {
    await t?.close();
  });

  test('with both limits 0 nothing is ever refused with 429', async () => {
    const statuses = await Promise.all(Array.from({ length: 60 }, () => t.as('viewer').get('/v1/vms')));
    assert.deepEqual(new Set(statuses.map((r) => r.status)), new Set([200]));
  });
});

describe('config: rate limit variables', () => {
  test('defaults are generous (60000 a minute, 2000 a second) so normal clients never see them', () => {
    const c = loadConfig({});
    assert.equal(c.rateLimitPerMinute, 60000);
    assert.equal(c.rateLimitBurst, 2000);
  });

  for (const [name, value] of [
    ['RATE_LIMIT_PER_MINUTE', '-1'],
    ['RATE_LIMIT_PER_MINUTE', 'lots'],
    ['RATE_LIMIT_BURST', '1.5'],
  ] as const) {
    test(`${name}=${value} stops the process naming the variable`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(name),
      );
    });
  }
});
