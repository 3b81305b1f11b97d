/**
 * GET /v1/hosts/{id}/domains is asked of the host's own worker over the queue:
 * the API never builds a driver, so in --role api it neither lists its own
 * machine nor creates anything there on a GET. No worker answering is a 503
 * with Retry-After; a driver that cannot list is a 503 with the driver's reason.
 */
import 'reflect-metadata';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { createVm, registerHost, startTestApp, type TestApp } from '../support/app.js';
import { waitUntil } from '../support/e2e.js';
import { tempDir, testRedisUrl } from '../support/env.js';

describe('api: GET /v1/hosts/{id}/domains through the host worker', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('lists what the worker’s driver runs: the VM created there, running', async () => {
    const hostId = await registerHost(t, { name: 'dom-sim' });
    const { vmId, operation } = await createVm(t, { hostId });
    assert.equal(operation.status, 'succeeded');
    const res = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.next, null);
    const mine = (res.body.items as Array<{ vmId: string; managed: boolean; state: string }>).find(
      (d) => d.vmId === vmId,
    );
    assert.deepEqual(
      { managed: mine?.managed, state: mine?.state },
      { managed: true, state: 'running' },
      JSON.stringify(res.body),
    );
  });

  test('a driver that cannot list: 503 with the driver’s reason and Retry-After, not a 500', async () => {
    const hostId = await registerHost(t, { name: 'dom-broken', uri: 'simulated://?failVerbs=listDomains' });
    const res = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.match(res.body.message as string, /cannot list its domains: .*simulated failure: listDomains/);
    assert.ok(Number(res.headers['retry-after']) >= 1);
  });

  test('an unknown host is still a 404', async () => {
    const res = await t.as('operator').get('/v1/hosts/no-such-host/domains');
    assert.equal(res.status, 404);
  });
});

describe('api: --role api asks the worker of another process', () => {
  let api: TestApp;
  let worker: Runtime | undefined;
  const workerDir = tempDir('vl-worker-');

  before(async () => {
    api = await startTestApp({ env: { ROLE: 'api', HOST_QUERY_TIMEOUT_MS: '400' } });
  });
  after(async () => {
    await worker?.stop();
    await api?.close();
    workerDir.cleanup();
  });

  test('no worker serves the host: 503 naming it, with Retry-After; the API machine is left untouched', async () => {
    // A qemu host: building its driver here would have listed this machine's QEMU processes.
    const hostId = await registerHost(api, { name: 'dom-qemu', driver: 'qemu', uri: 'qemu:///system?accel=tcg' });
    const res = await api.as('operator').get(`/v1/hosts/${hostId}/domains`);
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.match(res.body.message as string, new RegExp(`no worker of host ${hostId} answered within 400 ms`));
    assert.ok(Number(res.headers['retry-after']) >= 1);
    assert.equal(existsSync(join(api.dataDir, 'hosts', hostId)), false, 'nothing created under the API data dir');
  });

  test('a worker-role process (no event store) answers for its host', async () => {
    const hostId = await registerHost(api, { name: 'dom-remote' });
    const config = loadConfig({
      ROLE: 'worker',
      WORKER_HOSTS: hostId,
      DATA_DIR: workerDir.dir,
      REDIS_URL: testRedisUrl(),
      REDIS_PREFIX: api.redisPrefix,
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE_MS: '2000',
    });
    worker = await Runtime.create(config, pino({ level: 'silent' }));
    assert.equal(worker.store, undefined, 'a worker builds no event store');
    await worker.startBackground();
    await waitUntil('the worker to serve the host', async () => worker!.pool.workers.has(hostId));
    const { vmId, operation } = await createVm(api, { hostId });
    assert.equal(operation.status, 'succeeded');
    const res = await api.as('operator').get(`/v1/hosts/${hostId}/domains`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok((res.body.items as Array<{ vmId: string }>).some((d) => d.vmId === vmId));
    assert.equal(existsSync(join(api.dataDir, 'hosts', hostId)), false, 'the VM lives on the worker, not the API');
    assert.equal(existsSync(join(workerDir.dir, 'hosts', hostId)), true);
  });
});
