import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { ProjectionRunner } from '../../src/projections/projection-runner.js';
import { PROJECTIONS } from '../../src/projections/projection-catalog.js';
import { createVm, registerHost, startTestApp, type TestApp } from '../support/app.js';
import { getVm } from '../support/e2e.js';

/**
 * Two processes projecting the same read models (two API replicas on one Redis),
 * the second played by runners built in the test over the app's store and Redis.
 */
describe('e2e: read models projected by two processes', () => {
  let t: TestApp;
  const lines: string[] = [];
  let second: ProjectionRunner[] = [];

  before(async () => {
    t = await startTestApp();
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const store = t.runtime.store!;
    second = Object.values(PROJECTIONS).map(
      (make) => new ProjectionRunner(make(t.runtime.keys), store, t.runtime.redis, t.runtime.keys, log),
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
    // The watchdog ticks every 2 s: three ticks each.
    await sleep(6500);
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
    const deadline = Date.now() + 30_000;
    while (!noticed() && Date.now() < deadline) await sleep(100);
    assert.ok(noticed(), 'the second process noticed the wipe within 30 s');
    let listed = false;
    while (!listed && Date.now() < deadline) {
      const res = await t.as('viewer').get('/v1/vms?limit=100');
      listed = (res.body.items as { id: string }[]).some((v) => v.id === vmId);
      if (!listed) await sleep(200);
    }
    assert.ok(listed, 'the VM list was rebuilt from the log');
    assert.equal((await getVm(t, vmId)).state, 'running');
  });
});
