import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ProjectionRunner } from '../../src/projections/projection-runner.js';
import { PROJECTIONS } from '../../src/projections/projection-catalog.js';
import { createVm, registerHost, startTestApp, type TestApp } from '../support/app.js';
import { waitFor } from '../support/wait.js';
import { getVm } from '../support/e2e.js';

/**
 * Two processes projecting the same read models (two API replicas on one Redis),
 * the second played by runners built in the test over the app's store and Redis.
 */
describe('e2e: read models projected by two processes', () => {
  let t: TestApp;
  const lines: string[] = [];
  let second: ProjectionRunner[] = [];
  const epochReads = new Map<string, number>();

  before(async () => {
    t = await startTestApp();
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const store = t.runtime.store!;
    // The second process's Redis client counts each read of an epoch key: a runner reads its
    // epoch once in start() and once per watchdog tick, so the count is how far its watchdog got.
    const redis = t.runtime.redis;
    const counting = new Proxy(redis, {
      get(target, prop) {
        if (prop === 'get') {
          return (key: string) => {
            epochReads.set(key, (epochReads.get(key) ?? 0) + 1);
            return target.get(key);
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    second = Object.values(PROJECTIONS).map(
      (make) => new ProjectionRunner(make(t.runtime.keys), store, counting, t.runtime.keys, log),
    );
    await Promise.all(second.map((r) => r.start()));
  });

  after(async () => {
    await Promise.all(second.map((r) => r.close()));
    await t.close();
  });

  const messages = () => lines.map((l) => (JSON.parse(l) as { msg: string }).msg);

  test('neither mistakes the other for a Redis wipe: no restarts over several watchdog ticks', async () => {
    const hostId = await registerHost(t, { name: 'h1' });
    const { vmId } = await createVm(t, { name: 'twin' });
    // Three watchdog ticks each, waited for, not timed: a fourth tick's read (the read in start()
    // + 4) is issued only after the third tick is decided, and a restart would have logged first.
    const ticked = (r: ProjectionRunner) => (epochReads.get(t.runtime.keys.epoch(r.projection.name)) ?? 0) >= 1 + 4;
    await waitFor(() => second.every(ticked), {
      what: 'four watchdog ticks of every second-process runner',
      timeoutMs: 60_000,
      intervalMs: 100,
    });
    const subscribed = messages().filter((m) => m === 'projection subscribed').length;
    assert.equal(subscribed, second.length, `restarts seen: ${messages().join(' | ')}`);
    assert.ok(!messages().some((m) => /vanished|another process/.test(m)), messages().join(' | '));
    assert.equal((await getVm(t, vmId)).state, 'running');
    assert.equal((await t.as('viewer').get(`/v1/hosts/${hostId}`)).status, 200);
  });

  test('a real wipe is rebuilt once and both follow it: the read models come back', async () => {
    const before = lines.length;
    const { vmId } = await createVm(t, { name: 'after-wipe' });
    const keys = await t.runtime.redis.keys(`${t.redisPrefix}:rm:*`);
    await t.runtime.redis.del(...keys);
    const noticed = () =>
      lines.slice(before).some((l) => /vanished|another process/.test((JSON.parse(l) as { msg: string }).msg));
    await waitFor(noticed, { what: 'the second process to notice the wipe', timeoutMs: 30_000, intervalMs: 100 });
    await waitFor(
      async () => {
        const res = await t.as('viewer').get('/v1/vms?limit=100');
        return (res.body.items as { id: string }[]).some((v) => v.id === vmId);
      },
      { what: 'the VM list to be rebuilt from the log', timeoutMs: 30_000, intervalMs: 200 },
    );
    assert.equal((await getVm(t, vmId)).state, 'running');
  });
});
