/**
 * /metrics as an operator's Prometheus sees it: the API's and a worker process's (on
 * METRICS_PORT) both pass `promtool check metrics`, carry the families a dashboard
 * needs with the values a user can check by hand after a known sequence of commands,
 * and serve every metric deploy/grafana/virtledger.json queries.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/runtime/free-port.js';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { tempDir, testRedisUrl } from '../support/env.js';
import {
  parseSamples,
  promtoolCheck,
  promtoolSkipReason,
  sampleValue,
  servedNames,
  type Sample,
} from '../support/prometheus-text.js';
import { waitFor } from '../support/wait.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const MAIN = join(HERE, '../../src/main.js');
// Tests run from dist/test/api; the dashboard is read from the repository.
const DASHBOARD = join(HERE, '../../../deploy/grafana/virtledger.json');
const MIB = 1024 * 1024;

describe('metrics: the API and a worker process, as Prometheus scrapes them', () => {
  let t: TestApp;
  let worker: ChildProcess;
  let metricsUrl: string;
  const dirs: Array<{ cleanup: () => void }> = [];
  const hostId = `mh-${randomUUID().slice(0, 8)}`;
  let vmId: string;

  async function scrapeApi(): Promise<string> {
    const res = await t.http().get('/metrics');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    return res.text;
  }

  async function scrapeWorker(): Promise<string> {
    const res = await fetch(metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    return res.text();
  }

  before(async () => {
    // The API runs no worker: the host's jobs go to a worker process, as in production.
    t = await startTestApp({ env: { ROLE: 'api' } });
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    const data = tempDir('vl-metrics-worker-');
    dirs.push(data);
    worker = spawn(process.execPath, [MAIN, '--role', 'worker', '--host', hostId], {
      env: {
        ...process.env,
        REDIS_URL: testRedisUrl(),
        REDIS_PREFIX: t.redisPrefix,
        DATA_DIR: data.dir,
        METRICS_PORT: String(port),
        HOST_BIND: '127.0.0.1',
        // The three failed pauses are expected: only errors would be news.
        LOG_LEVEL: 'error',
        JOB_BACKOFF_MS: '50',
        JOB_ATTEMPTS: '3',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    // The worker is up once its metrics port answers (a loaded machine may take a while to start it).
    await waitFor(
      async () => {
        if (worker.exitCode !== null) throw new Error(`the worker exited with ${worker.exitCode}`);
        return (await fetch(metricsUrl).catch(() => undefined))?.ok;
      },
      { what: 'the worker’s /metrics', timeoutMs: 90_000, intervalMs: 100 },
    );
    const host = await t.as('admin').post('/v1/hosts', {
      id: hostId,
      name: 'metrics-host',
      driver: 'simulated',
      // Every pause fails (retryably): one operation with two retries and one failure.
      uri: 'simulated://?latencyMs=0&failVerbs=pause',
      capacity: { vcpus: 8, memoryMiB: 4096 },
    });
    assert.equal(host.status, 201, JSON.stringify(host.body));
    const create = await t.as('operator').post('/v1/vms', { name: 'm1', vcpus: 2, memoryMiB: 256, diskGiB: 1 });
    assert.equal(create.status, 202, JSON.stringify(create.body));
    vmId = create.body.vmId as string;
    assert.equal((await waitOperation(t, create.body.operationId as string, 90_000)).status, 'succeeded');
    const pause = await t.as('operator').post(`/v1/vms/${vmId}/pause`);
    assert.equal(pause.status, 202, JSON.stringify(pause.body));
    assert.equal((await waitOperation(t, pause.body.operationId as string, 90_000)).status, 'failed');
  });

  after(async () => {
    if (worker && worker.exitCode === null) {
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await t?.close();
    for (const d of dirs) d.cleanup();
  });

  test(
    'promtool check metrics passes on the API’s /metrics and the worker’s',
    { skip: promtoolSkipReason() },
    async () => {
      for (const [who, text] of [
        ['api', await scrapeApi()],
        ['worker', await scrapeWorker()],
      ] as const) {
        const r = promtoolCheck(text);
        assert.ok(r.ok, `${who}: promtool check metrics:\n${r.output}`);
      }
    },
  );

  test('no gauge carries a counter’s _total suffix (the active handles/requests/resources sums are gone)', async () => {
    for (const text of [await scrapeApi(), await scrapeWorker()]) {
      const bad = [...text.matchAll(/^# TYPE (\S+_total) (\S+)$/gm)].filter((m) => m[2] !== 'counter');
      assert.deepEqual(
        bad.map((m) => m[1]),
        [],
      );
      assert.match(text, /^virtledger_nodejs_active_handles\{/m, 'the labelled family stays');
    }
  });

  test('the API reports VMs by state, operations by kind and status, and the host’s capacity and allocation', async () => {
    const s = parseSamples(await scrapeApi());
    assert.equal(sampleValue(s, 'virtledger_vms', { state: 'running' }), 1);
    assert.equal(sampleValue(s, 'virtledger_operations', { kind: 'create', status: 'succeeded' }), 1);
    assert.equal(sampleValue(s, 'virtledger_operations', { kind: 'pause', status: 'failed' }), 1);
    const host = { host: hostId, name: 'metrics-host', state: 'active' };
    assert.equal(sampleValue(s, 'virtledger_host_capacity_vcpus', host), 8);
    assert.equal(sampleValue(s, 'virtledger_host_allocated_vcpus', host), 2);
    assert.equal(sampleValue(s, 'virtledger_host_capacity_memory_bytes', host), 4096 * MIB);
    assert.equal(sampleValue(s, 'virtledger_host_allocated_memory_bytes', host), 256 * MIB);
  });

  test('the API times HTTP requests by route template and status, and every store append', async () => {
    const s = parseSamples(await scrapeApi());
    const posts = { method: 'POST', route: '/v1/vms', status: '202' };
    assert.equal(sampleValue(s, 'virtledger_http_request_duration_seconds_count', posts), 1);
    const pauses = sampleValue(s, 'virtledger_http_request_duration_seconds_count', {
      method: 'POST',
      route: '/v1/vms/:id/pause',
      status: '202',
    });
    assert.equal(pauses, 1, 'the route template, never the VM id');
    assert.ok(!s.some((x) => x.labels.route?.includes(vmId)), 'no route label carries an id');
    const appends = sampleValue(s, 'virtledger_store_append_duration_seconds_count', {
      store: 'sqlite',
      outcome: 'ok',
    });
    // Host registered, VM created, pause accepted, plus the results and the saga checkpoints.
    assert.ok(appends !== undefined && appends >= 3, `appends: ${appends}`);
  });

  test('the worker times driver calls by driver and verb, and counts job retries and failures', async () => {
    const s: Sample[] = await waitFor(
      async () => {
        const samples = parseSamples(await scrapeWorker());
        return sampleValue(samples, 'virtledger_job_failures_total', { host: hostId, step: 'pause' }) ? samples : false;
      },
      { what: 'the pause failure counted by the worker' },
    );
    const call = (verb: string, outcome: string) =>
      sampleValue(s, 'virtledger_driver_call_duration_seconds_count', { driver: 'simulated', verb, outcome });
    assert.equal(call('define', 'ok'), 1);
    assert.equal(call('start', 'ok'), 1);
    assert.equal(call('pause', 'error'), 3, 'three attempts (JOB_ATTEMPTS=3)');
    assert.equal(sampleValue(s, 'virtledger_job_retries_total', { host: hostId, step: 'pause' }), 2);
    assert.equal(sampleValue(s, 'virtledger_job_failures_total', { host: hostId, step: 'pause' }), 1);
    assert.equal(sampleValue(s, 'virtledger_queue_depth', { host: hostId }), 0);
    // Cluster-wide numbers come from the API only: a worker would count every VM again.
    assert.ok(!s.some((x) => x.name === 'virtledger_vms' || x.name === 'virtledger_operations'));
  });

  test('every metric deploy/grafana/virtledger.json queries is in the live /metrics of the API or the worker', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as unknown;
    const queries = collectQueries(dashboard);
    assert.ok(queries.length >= 10, `the dashboard has ${queries.length} queries`);
    const served = new Set([...servedNames(await scrapeApi()), ...servedNames(await scrapeWorker())]);
    const used = new Set(queries.flatMap((q) => [...q.matchAll(/\bvirtledger_[a-zA-Z0-9_]+/g)].map((m) => m[0])));
    const missing = [...used].filter((name) => !served.has(name));
    assert.deepEqual(missing, [], 'metrics the dashboard queries but nothing serves');
  });

  test('the worker’s metrics port answers 404 off /metrics and 405 to a POST, naming the route', async () => {
    const other = await fetch(metricsUrl.replace('/metrics', '/health'));
    assert.equal(other.status, 404);
    assert.match(((await other.json()) as { message: string }).message, /\/metrics/);
    const post = await fetch(metricsUrl, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  });
});

/** Every PromQL expression in a dashboard: panel targets (rows included) and templating queries. */
function collectQueries(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(collectQueries);
  if (!node || typeof node !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'expr' || k === 'query' || k === 'definition') && typeof v === 'string') out.push(v);
    else out.push(...collectQueries(v));
  }
  return out;
}
