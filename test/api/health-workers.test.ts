/**
 * The worker side's failures are not swallowed: when this process cannot read
 * the hosts it should serve, /health shows the workers check down with the
 * reason (and since when), and clears it once the look-up works again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { registerHost, startTestApp, type TestApp } from '../support/app.js';
import { waitUntil } from '../support/e2e.js';

describe('api: /health surfaces a failing host look-up', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t?.close();
  });

  test('workers down with the reason while the hosts cannot be read; up again after', async () => {
    const hostId = await registerHost(t, { name: 'health-1' });
    const healthy = await waitUntil('the worker to serve the host', async () => {
      const res = await t.http().get('/health');
      return res.status === 200 && (res.body.details.workers.hosts as string[]).includes(hostId) ? res : undefined;
    });
    assert.equal(healthy.body.details.workers.status, 'up');

    const readModels = t.runtime.readModels;
    const listHosts = readModels.listHosts.bind(readModels);
    readModels.listHosts = () => Promise.reject(new Error('hosts read model unreachable'));
    try {
      const degraded = await waitUntil('/health to show the workers down', async () => {
        const res = await t.http().get('/health');
        return res.status === 503 && res.body.details?.workers?.status === 'down' ? res : undefined;
      });
      assert.match(
        degraded.body.message as string,
        /^unhealthy: workers: cannot read the hosts to serve: hosts read model unreachable/,
      );
      assert.match(degraded.body.details.workers.message as string, /hosts read model unreachable/);
      assert.ok(!Number.isNaN(Date.parse(degraded.body.details.workers.since as string)));
      assert.deepEqual(degraded.body.details.workers.hosts, [hostId], 'the hosts already served keep running');
    } finally {
      readModels.listHosts = listHosts;
    }
    await waitUntil('/health to be up again', async () => {
      const res = await t.http().get('/health');
      return res.status === 200 && res.body.details.workers.status === 'up';
    });
  });
});
