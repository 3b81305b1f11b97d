import { tmpdir } from 'node:os';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import request from 'supertest';
import { createHttpApp } from '../../src/runtime/http-app.js';
import { loadConfig, type AppConfig } from '../../src/config/config.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { tempDir, testPostgresUrl, testRedisUrl, uniqueName } from './env.js';
import { waitFor } from './wait.js';

export const TOKENS = {
  admin: 'admin-token-0123456789abcdef',
  operator: 'operator-token-0123456789abcdef',
  auditor: 'auditor-token-0123456789abcdef',
  viewer: 'viewer-token-0123456789abcdef',
} as const;

export type TestRole = keyof typeof TOKENS;

export interface TestAppOptions {
  /** Reuse a data dir (restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Reuse a Redis prefix (restart tests); a fresh one otherwise. */
  redisPrefix?: string;
  /** 'sqlite' (default) or 'postgres' (needs TEST_POSTGRES_URL; a fresh schema per app unless eventStoreUrl is given). */
  store?: 'sqlite' | 'postgres';
  eventStoreUrl?: string;
  env?: Record<string, string>;
}

export interface TestApp {
  app: NestExpressApplication;
  runtime: Runtime;
  config: AppConfig;
  dataDir: string;
  redisPrefix: string;
  eventStoreUrl: string;
  /** supertest agent bound to the app with a role's token. */
  as(role: TestRole): {
    get(path: string): request.Test;
    post(path: string, body?: object): request.Test;
    delete(path: string): request.Test;
    patch(path: string, body?: object): request.Test;
  };
  http(): ReturnType<typeof request>;
  /** Stop the app and runtime; keep data (for restart tests). */
  stop(): Promise<void>;
  /** Stop and remove everything this app created (temp dir, Redis keys). */
  close(): Promise<void>;
}

/** The real app: real Redis (own prefix), real store on disk, real BullMQ workers in-process. */
export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const tmp = opts.dataDir ? undefined : tempDir('vl-app-');
  const dataDir = opts.dataDir ?? tmp!.dir;
  const redisPrefix = opts.redisPrefix ?? uniqueName('vlt');
  let eventStoreUrl = opts.eventStoreUrl ?? 'sqlite:events.sqlite3';
  if (!opts.eventStoreUrl && opts.store === 'postgres') {
    const base = testPostgresUrl();
    if (!base) throw new Error('TEST_POSTGRES_URL not set');
    const u = new URL(base);
    u.searchParams.set('schema', uniqueName('vl'));
    eventStoreUrl = u.toString();
  }
  const config = loadConfig({
    DATA_DIR: dataDir,
    REDIS_URL: testRedisUrl(),
    REDIS_PREFIX: redisPrefix,
    EVENTSTORE_URL: eventStoreUrl,
    AUTH_TOKENS: Object.entries(TOKENS)
      .map(([role, token]) => `${role}:${token}`)
      .join(','),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JOB_BACKOFF_MS: '50',
    SHUTDOWN_GRACE_MS: '2000',
    // No seal lands in the middle of another suite's log; seal suites pass their own or call sealNow().
    SEAL_EVERY_EVENTS: '0',
    SEAL_EVERY_MS: '0',
    // Tests keep host storage in their own temp dirs and images in the repo (guest/): both are allowed
    // roots here; the HOST_DIR_ROOTS refusals have their own tests with their own roots.
    HOST_DIR_ROOTS: `${tmpdir()},${process.cwd()}`,
    ...opts.env,
  });
  const runtime = await Runtime.create(config, pino({ level: config.logLevel }));
  await runtime.startBackground();
  const app = await createHttpApp(runtime);
  const server = app.getHttpServer();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
    await runtime.stop();
  };
  return {
    app,
    runtime,
    config,
    dataDir,
    redisPrefix,
    eventStoreUrl,
    http: () => request(server),
    as(role) {
      const auth = `Bearer ${TOKENS[role]}`;
      return {
        get: (path) => request(server).get(path).set('Authorization', auth),
        post: (path, body) =>
          request(server)
            .post(path)
            .set('Authorization', auth)
            .send(body ?? {}),
        delete: (path) => request(server).delete(path).set('Authorization', auth),
        patch: (path, body) =>
          request(server)
            .patch(path)
            .set('Authorization', auth)
            .send(body ?? {}),
      };
    },
    stop,
    async close() {
      await stop();
      await deleteRedisPrefix(redisPrefix);
      tmp?.cleanup();
    },
  };
}

/** Removes every key of a test run (read models, queues, idempotency). */
/**
 * Every key of the prefix deleted at one instant (one script: scan and delete run inside Redis),
 * as a Redis restarted without persistence loses them. A SCAN-and-DEL loop from here left a
 * window in which an app running meanwhile noticed the wipe, rebuilt a read model and then had
 * part of its fresh writes deleted by the rest of the loop: a wipe no real Redis makes.
 */
const WIPE = `
local cursor = '0'
local n = 0
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    redis.call('DEL', key)
    n = n + 1
  end
until cursor == '0'
return n`;

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    await r.eval(WIPE, 0, `${prefix}:*`);
  } finally {
    r.disconnect();
  }
}

/** Long-polls an operation until it is done; fails the test with the operation when it is not. */
export async function waitOperation(
  t: TestApp,
  operationId: string,
  timeoutMs = 20000,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await t.as('admin').get(`/v1/operations/${operationId}?waitMs=${Math.min(5000, timeoutMs)}`);
    if (res.status === 200 && ['succeeded', 'failed', 'cancelled'].includes(res.body.status as string)) {
      return res.body as Record<string, unknown>;
    }
    if (Date.now() > deadline)
      throw new Error(`operation ${operationId} not done: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

export async function registerHost(
  t: TestApp,
  body: { name: string; driver?: string; uri?: string; capacity?: { vcpus: number; memoryMiB: number }; id?: string },
): Promise<string> {
  const res = await t.as('admin').post('/v1/hosts', {
    driver: 'simulated',
    uri: 'simulated://',
    capacity: { vcpus: 64, memoryMiB: 65536 },
    ...body,
  });
  if (res.status !== 201) throw new Error(`host registration failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id as string;
}

/** Creates a VM and waits for its create operation; returns the VM id and the final operation. */
export async function createVm(
  t: TestApp,
  body: Record<string, unknown> = {},
): Promise<{ vmId: string; operation: Record<string, unknown> }> {
  const res = await t.as('operator').post('/v1/vms', { name: 'vm', vcpus: 1, memoryMiB: 64, diskGiB: 1, ...body });
  if (res.status !== 202) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  const operation = await waitOperation(t, res.body.operationId as string);
  return { vmId: res.body.vmId as string, operation };
}

/**
 * Waits until the sagas have handled every event of the log: what a setup's last events cause (a
 * capacity released after a failed create, say) is appended by then, so a count taken next is stable.
 */
async function logSettled(t: TestApp): Promise<void> {
  await waitFor(
    async () => {
      const head = await t.runtime.store!.headPosition();
      return head === undefined || t.runtime.controlPlane!.sagas.position === head;
    },
    { what: 'the sagas at the head of the log' },
  );
}

/**
 * The log's length once the sagas have handled all of it: the "before" of a "nothing appended"
 * check, so an earlier test's trailing append (a failed create's capacity release) cannot land
 * between the two counts. A test app without a control plane in this process is counted as is.
 */
export async function settledLogLength(t: TestApp): Promise<number> {
  if (t.runtime.controlPlane) await logSettled(t);
  return logLength(t);
}

/** Length of the global log, read straight from the store. */
export async function logLength(t: TestApp): Promise<number> {
  let n = 0;
  let after: bigint | undefined;
  for (;;) {
    const page = await t.runtime.store!.readAll({ ...(after !== undefined ? { after } : {}), maxCount: 1000 });
    if (!page.length) return n;
    n += page.length;
    after = page[page.length - 1]!.position;
  }
}
