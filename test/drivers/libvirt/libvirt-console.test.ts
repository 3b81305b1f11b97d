/**
 * The serial console of a libvirt domain through the API, on the real libvirtd: the domain's
 * `<serial type='pty'>` named by `virsh ttyconsole`, opened by the host's worker; its
 * `<log file=…>` (virtlogd) read back by console/log.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestApp, TOKENS, waitOperation, type TestApp } from '../../support/app.js';
import { ConsoleClient } from '../../support/console-client.js';
import { waitFor } from '../../support/wait.js';
import { ensureGuest } from '../qemu/guest-console.js';
import { ensureDaemons, libvirtSkipReason, LibvirtTestEnv, type LibvirtDaemons } from './libvirt-test-env.js';

const skip = libvirtSkipReason();

describe('console of a libvirt VM through the API (real libvirtd, TCG guest)', { skip, timeout: 600_000 }, () => {
  let daemons: LibvirtDaemons;
  let env: LibvirtTestEnv;
  let t: TestApp;
  let port: number;
  let vmId: string;
  const hostId = 'lv-console';

  before(async () => {
    daemons = ensureDaemons();
    env = new LibvirtTestEnv('vl-lv-console-');
    const guest = ensureGuest();
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    const query = new URLSearchParams({
      storage: join(env.root, 'storage'),
      images: guest.imagesDir,
      stopTimeoutMs: '5000',
    });
    const host = await t.as('admin').post('/v1/hosts', {
      id: hostId,
      name: hostId,
      driver: 'libvirt',
      uri: `${daemons.uri}?${query.toString()}`,
      capacity: { vcpus: 4, memoryMiB: 2048 },
    });
    assert.equal(host.status, 201, JSON.stringify(host.body));
    const res = await t
      .as('operator')
      .post('/v1/vms', { name: 'lv-console', vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId, image: guest.image });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    vmId = res.body.vmId as string;
    assert.equal((await waitOperation(t, res.body.operationId as string, 120_000)).status, 'succeeded');
  });

  after(async () => {
    if (vmId && t) {
      const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
      if (del.status === 202) await waitOperation(t, del.body.operationId as string, 120_000).catch(() => undefined);
    }
    await t?.close();
    await env?.cleanup(daemons ? [daemons.uri] : []);
    daemons?.stop();
  });

  test('GUEST-READY in the log; an operator types on the pty and reads the answer', async () => {
    await waitFor(
      async () => {
        const res = await t.as('operator').get(`/v1/vms/${vmId}/console/log?tail=100`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return (res.body.lines as string[]).some((l) => l.includes('GUEST-READY'));
      },
      { what: 'GUEST-READY in the libvirt console log', timeoutMs: 180_000, intervalMs: 500 },
    );
    const c = await ConsoleClient.open(port, vmId, { token: TOKENS.operator });
    try {
      const n = 20_000 + Math.floor(Math.random() * 10_000);
      c.type(`echo lv-$((${n} + 5))\n`);
      await c.waitForOutput(`lv-${n + 5}`, 30_000);
    } finally {
      await c.close();
    }
    const events = await waitFor(
      async () => {
        const e = await t.runtime.store!.readStream(`console-${vmId}`);
        return e.some((x) => x.type === 'ConsoleClosed') ? e : false;
      },
      { what: 'the session closed in the log' },
    );
    assert.match(String(events[0]!.metadata.principal), /^operator#/);
    assert.equal(events[0]!.data.hostId, hostId);
  });
});
