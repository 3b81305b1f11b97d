import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../config/config.js';
import { SimulatedDriver } from '../drivers/simulated/simulated.driver.js';
import type { NewEvent } from '../eventstore/event-store.port.js';
import { WrongExpectedVersionError } from '../eventstore/errors.js';
import { parseSamples, sampleValue } from '../../test/support/prometheus-text.js';
import { tempDir } from '../../test/support/env.js';
import { tempSqliteStore } from '../../test/support/recording-store.js';
import { meteredDriver } from './metered-driver.js';
import { meteredStore } from './metered-store.js';
import { Metrics } from './metrics.js';

function event(): NewEvent {
  return {
    id: randomUUID(),
    type: 'Tested',
    data: {},
    metadata: { principal: 'spec', correlationId: 'c', causationId: 'x', at: '2024-01-01T00:00:00.000Z', schema: 1 },
  };
}

async function samples(m: Metrics) {
  return parseSamples(await m.render());
}

describe('metrics: families and the decorators that feed them', () => {
  test('no gauge named _total: prom-client’s active handles/requests/resources sums are dropped, the labelled families stay', async () => {
    const text = await new Metrics().render();
    const gaugesWithTotal = [...text.matchAll(/^# TYPE (\S+_total) (\S+)$/gm)].filter((m) => m[2] !== 'counter');
    assert.deepEqual(gaugesWithTotal, []);
    assert.match(text, /^# TYPE virtledger_nodejs_active_handles gauge$/m);
    assert.match(text, /^# TYPE virtledger_process_cpu_seconds_total counter$/m);
  });

  test('a metered store times appends by outcome: ok, and conflict for a wrong expected revision; reads pass through', async () => {
    const m = new Metrics();
    const { store, cleanup } = await tempSqliteStore();
    try {
      const metered = meteredStore(store, m);
      await metered.append('s-1', [event()], 'no_stream');
      await assert.rejects(metered.append('s-1', [event()], 'no_stream'), WrongExpectedVersionError);
      assert.equal((await metered.readStream('s-1')).length, 1);
      assert.equal(metered.kind, 'sqlite');
      // One wrapper per member, not one allocated per access (every store call of the process goes through here).
      assert.equal(metered.append, metered.append);
      assert.equal(metered.readStream, metered.readStream);
      const s = await samples(m);
      const count = (outcome: string) =>
        sampleValue(s, 'virtledger_store_append_duration_seconds_count', { store: 'sqlite', outcome });
      assert.equal(count('ok'), 1);
      assert.equal(count('conflict'), 1);
    } finally {
      await cleanup();
    }
  });

  test('a fault swapped onto a metered store’s append is what runs, and may call the append it replaced', async () => {
    const m = new Metrics();
    const { store, cleanup } = await tempSqliteStore();
    try {
      const metered = meteredStore(store, m);
      const original = metered.append;
      let injected = 0;
      metered.append = (streamId, events, expected) => {
        injected++;
        return original(streamId, events, expected);
      };
      await metered.append('s-2', [event()], 'no_stream');
      assert.equal(injected, 1);
      metered.append = original;
      await metered.append('s-2', [event()], 0n);
      assert.equal(injected, 1);
      assert.equal((await metered.readStream('s-2')).length, 2);
    } finally {
      await cleanup();
    }
  });

  test('a metered driver times each verb by driver and outcome, and leaves the driver’s own answers untouched', async () => {
    const m = new Metrics();
    const dir = tempDir('vl-metered-');
    try {
      const binding = {
        id: 'h1',
        driver: 'simulated',
        uri: 'simulated://?latencyMs=0&failVerbs=pause',
        storageDir: dir.dir,
      };
      const driver = meteredDriver(new SimulatedDriver(binding), 'simulated', m);
      assert.ok(driver instanceof SimulatedDriver);
      const spec = { id: 'vm-1', name: 'vm-1', vcpus: 1, memoryMiB: 64, diskGiB: 1 };
      await driver.define(spec);
      await driver.start(spec);
      await assert.rejects(driver.pause(spec), /simulated failure: pause/);
      assert.equal((await driver.status(spec)).state, 'running');
      const s = await samples(m);
      const count = (verb: string, outcome: string) =>
        sampleValue(s, 'virtledger_driver_call_duration_seconds_count', { driver: 'simulated', verb, outcome });
      assert.equal(count('define', 'ok'), 1);
      assert.equal(count('start', 'ok'), 1);
      assert.equal(count('pause', 'error'), 1);
      assert.equal(count('status', 'ok'), 1);
      await driver.close();
    } finally {
      dir.cleanup();
    }
  });

  test('read-model gauges stay empty without a census (a worker reports no cluster-wide numbers)', async () => {
    const s = await samples(new Metrics());
    assert.ok(!s.some((x) => x.name === 'virtledger_vms' || x.name.startsWith('virtledger_host_')));
  });

  test('observeJobFailure: a retried attempt counts as a retry, the last one as a failure', async () => {
    const m = new Metrics();
    m.observeJobFailure('h1', 'start', false);
    m.observeJobFailure('h1', 'start', false);
    m.observeJobFailure('h1', 'start', true);
    const s = await samples(m);
    assert.equal(sampleValue(s, 'virtledger_job_retries_total', { host: 'h1', step: 'start' }), 2);
    assert.equal(sampleValue(s, 'virtledger_job_failures_total', { host: 'h1', step: 'start' }), 1);
  });
});

describe('config: METRICS_PORT', () => {
  test('a worker serves metrics on 9464 by default; api and all only when set (their /metrics is on PORT)', () => {
    assert.equal(loadConfig({ ROLE: 'worker', WORKER_HOSTS: 'h1' }).metricsPort, 9464);
    assert.equal(loadConfig({ ROLE: 'api' }).metricsPort, undefined);
    assert.equal(loadConfig({}).metricsPort, undefined);
    assert.equal(loadConfig({ ROLE: 'worker', WORKER_HOSTS: 'h1', METRICS_PORT: '9100' }).metricsPort, 9100);
    assert.equal(loadConfig({ METRICS_PORT: '0' }).metricsPort, 0);
  });

  test('a METRICS_PORT that is not a port is refused, naming the variable', () => {
    for (const bad of ['abc', '-1', '70000', '1.5']) {
      assert.throws(
        () => loadConfig({ METRICS_PORT: bad }),
        (err: unknown) => err instanceof ConfigError && /METRICS_PORT:/.test(err.message),
        bad,
      );
    }
  });
});
