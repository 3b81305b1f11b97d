/**
 * Healing's rules against the real stack (Redis, BullMQ workers, SQLite, the reconciler), with the
 * simulated driver's fault injection standing in for a VM that crashes every time (the real QEMU
 * crash is in healing-fence.test.ts): backoff doubling, the limit, an operator's start superseding
 * a scheduled restart, PATCH restartPolicy, and a scheduled restart surviving an API restart.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { SimulatedDriver } from '../../src/drivers/simulated/simulated.driver.js';
import { killSimulatedFromOutside } from '../drivers/simulated/kill-from-outside.js';
import { DomainFileStore } from '../../src/drivers/simulated/domain-file-store.js';
import { createVm, registerHost, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { storeEvents, waitUntil } from '../support/e2e.js';
import { tempDir, uniqueName } from '../support/env.js';
import { waitFor } from '../support/wait.js';

const ENV = { RECONCILE_INTERVAL_MS: '1000', HEALING_BACKOFF_MS: '100', HEALING_BACKOFF_MAX_MS: '400' };

async function simDriver(t: TestApp, hostId: string): Promise<SimulatedDriver> {
  const d = await waitUntil('worker', async () => t.runtime.pool.workers.get(hostId)?.driver);
  assert.ok(d instanceof SimulatedDriver);
  return d;
}

async function vmEventsOf(t: TestApp, vmId: string) {
  return (await storeEvents(t)).filter((e) => e.streamId === `vm-${vmId}`);
}

describe('process: healing backoff, limit and timers', { timeout: 240000 }, () => {
  const apps: TestApp[] = [];
  const dir = tempDir('vl-heal-restart-');
  after(async () => {
    for (const a of apps) await a.close();
    dir.cleanup();
  });

  test('a VM that crashes every time: restarts with doubling delays, then healing gives up and it stays crashed', async () => {
    const t = await startTestApp({ env: { ...ENV, HEALING_MAX_RESTARTS: '3' } });
    apps.push(t);
    const hostId = await registerHost(t, { name: 'heal-limit' });
    const { vmId } = await createVm(t, { hostId, restartPolicy: 'on-crash' });
    const driver = await simDriver(t, hostId);
    // Crash it each time it runs, until healing gives up.
    await waitFor(
      async () => {
        const events = await vmEventsOf(t, vmId);
        if (events.some((e) => e.type === 'VmHealingGaveUp')) return true;
        const v = (await t.as('viewer').get(`/v1/vms/${vmId}`)).body;
        if (v.state === 'running' && !v.pendingOperation) await killSimulatedFromOutside(driver.host, vmId);
        return false;
      },
      { what: 'healing to give up', timeoutMs: 120000, intervalMs: 100 },
    );
    const events = await vmEventsOf(t, vmId);
    const crashes = events.filter((e) => e.type === 'VmCrashed');
    const scheduled = events.filter((e) => e.type === 'VmRestartScheduled');
    assert.equal(crashes.length, 4, 'three restarts, then a fourth crash');
    assert.deepEqual(
      scheduled.map((e) => [e.data.attempt, e.data.delayMs]),
      [
        [1, 100],
        [2, 200],
        [3, 400],
      ],
    );
    scheduled.forEach((e, i) => assert.equal(e.data.causeEventId, crashes[i]!.id, 'each restart names its crash'));
    const gaveUp = events.find((e) => e.type === 'VmHealingGaveUp')!;
    assert.equal(gaveUp.data.causeEventId, crashes[3]!.id);
    assert.match(gaveUp.data.reason as string, /limit 3/);
    const v = (await t.as('viewer').get(`/v1/vms/${vmId}`)).body;
    assert.equal(v.state, 'crashed');
    assert.equal(v.scheduledRestart, null);
    for (const e of scheduled) {
      const op = await waitOperation(t, e.data.operationId as string);
      assert.equal(op.kind, 'restart');
      assert.equal(op.status, 'succeeded');
    }
  });

  test('an operator start supersedes a scheduled restart; PATCH restartPolicy shows in the view', async () => {
    const t = await startTestApp({ env: { ...ENV, HEALING_BACKOFF_MS: '600000', HEALING_BACKOFF_MAX_MS: '600000' } });
    apps.push(t);
    const hostId = await registerHost(t, { name: 'heal-cancel' });
    const { vmId } = await createVm(t, { hostId });
    assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.restartPolicy, 'never');
    const bad = await t.as('operator').patch(`/v1/vms/${vmId}`, { restartPolicy: 'sometimes' });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /restartPolicy must be one of never, on-crash, always/);
    const patched = await t.as('operator').patch(`/v1/vms/${vmId}`, { restartPolicy: 'always' });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.restartPolicy, 'always');
    await killSimulatedFromOutside((await simDriver(t, hostId)).host, vmId);
    const waiting = await waitFor(
      async () => {
        const v = (await t.as('viewer').get(`/v1/vms/${vmId}`)).body;
        return v.scheduledRestart ? v : undefined;
      },
      { what: 'a restart scheduled (10 minutes away)', timeoutMs: 60000 },
    );
    assert.equal(waiting.state, 'crashed');
    const start = await t.as('operator').post(`/v1/vms/${vmId}/start`);
    assert.equal(start.status, 202);
    assert.equal((await waitOperation(t, start.body.operationId as string)).status, 'succeeded');
    const cancelled = await waitOperation(t, waiting.scheduledRestart.operationId as string);
    assert.equal(cancelled.status, 'cancelled');
    assert.match(cancelled.error as string, new RegExp(`superseded by start ${start.body.operationId as string}`));
    assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.scheduledRestart, null);
  });

  test('a restart scheduled before the API stops is started by the next API at its time', async () => {
    const redisPrefix = uniqueName('vlt');
    const env = { ...ENV, HEALING_BACKOFF_MS: '4000', HEALING_BACKOFF_MAX_MS: '4000' };
    const t1 = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    const hostId = await registerHost(t1, { name: 'heal-timer' });
    const { vmId } = await createVm(t1, { hostId, restartPolicy: 'on-crash' });
    await killSimulatedFromOutside((await simDriver(t1, hostId)).host, vmId);
    const waiting = await waitFor(async () => (await t1.as('viewer').get(`/v1/vms/${vmId}`)).body.scheduledRestart, {
      what: 'a restart scheduled',
    });
    await t1.stop();
    const t2 = await startTestApp({ dataDir: dir.dir, redisPrefix, env });
    apps.push(t2);
    const op = await waitOperation(t2, waiting.operationId as string, 60000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    const v = (await t2.as('viewer').get(`/v1/vms/${vmId}`)).body;
    assert.equal(v.state, 'running');
    const started = (await vmEventsOf(t2, vmId)).find((e) => e.type === 'VmStartRequested' && e.data.restart);
    assert.ok(started, 'the restart went the normal start path');
    assert.ok(
      Date.parse(started.metadata.at) >= Date.parse(waiting.notBefore as string),
      'not before the time the event named',
    );
  });

  test('a guest that powers itself off: always restarts it, on-crash leaves it down', async () => {
    const t = await startTestApp({ env: ENV });
    apps.push(t);
    const hostId = await registerHost(t, { name: 'heal-poweroff' });
    const { vmId: always } = await createVm(t, { hostId, restartPolicy: 'always' });
    const { vmId: onCrash } = await createVm(t, { hostId, restartPolicy: 'on-crash' });
    const files = new DomainFileStore((await simDriver(t, hostId)).host.storageDir);
    // What a guest poweroff leaves: the domain stopped, nobody having asked.
    for (const id of [always, onCrash]) {
      const d = files.read(id)!;
      files.write({ ...d, state: 'stopped', updatedAt: new Date().toISOString() });
    }
    const restarted = await waitFor(
      async () => (await vmEventsOf(t, always)).find((e) => e.type === 'VmStartRequested' && e.data.restart),
      { what: 'the always VM restarted', timeoutMs: 60000 },
    );
    const crashedEv = (await vmEventsOf(t, always)).find((e) => e.type === 'VmCrashed')!;
    assert.equal((crashedEv.data.evidence as { observed: string }).observed, 'stopped');
    assert.equal((restarted.data.restart as { causeEventId: string }).causeEventId, crashedEv.id);
    await waitFor(async () => (await t.as('viewer').get(`/v1/vms/${always}`)).body.state === 'running', {
      what: 'the always VM running',
      timeoutMs: 60000,
    });
    const down = await waitFor(
      async () => {
        const v = (await t.as('viewer').get(`/v1/vms/${onCrash}`)).body;
        return v.state === 'crashed' ? v : undefined;
      },
      { what: 'the on-crash VM read down', timeoutMs: 60000 },
    );
    assert.equal(down.scheduledRestart, null);
    assert.equal(
      (await vmEventsOf(t, onCrash)).filter((e) => e.type === 'VmRestartScheduled').length,
      0,
      'a poweroff is not a crash',
    );
  });
});
