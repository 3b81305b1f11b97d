/**
 * A container's console through the API: the init's stdin is the FIFO the driver made at
 * launch, its stdout the console log. A shell as init runs what an operator types; a viewer's
 * input never reaches it; the log read through the API shows what the init printed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ContainerDriver } from '../../../src/drivers/container/container.driver.js';
import { buildRootfs } from '../../../src/drivers/container/rootfs.js';
import { startTestApp, TOKENS, waitOperation, type TestApp } from '../../support/app.js';
import { ConsoleClient, UpgradeRefused } from '../../support/console-client.js';
import { MAX_SESSIONS_PER_PRINCIPAL } from '../../../src/modules/console/console-upgrade.js';
import { tempDir, testRedisUrl } from '../../support/env.js';
import { asUser, writeAuthFile } from '../../support/users.js';
import { parseSamples, sampleValue } from '../../support/prometheus-text.js';
import { waitFor } from '../../support/wait.js';
import { BUSYBOX, containerSkipReason, removeHostCgroups } from './container-test-env.js';

const skip = containerSkipReason();
const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../../src/main.js');

/** A busybox root filesystem under `images/shell` whose init is SHELL_INIT. */
async function shellImage(images: string): Promise<string> {
  mkdirSync(images, { recursive: true });
  const rootfs = join(images, 'shell');
  await buildRootfs({ kind: 'busybox' }, rootfs, BUSYBOX);
  writeFileSync(join(rootfs, 'sbin', 'init'), SHELL_INIT, { mode: 0o755 });
  return rootfs;
}

/** PID 1 says it is up, then is a shell reading commands from its stdin (the console). */
const SHELL_INIT = `#!/bin/sh
echo CONTAINER-READY
exec /bin/sh
`;

describe('console of a container VM through the API (real runc, namespaces)', { skip }, () => {
  let t: TestApp;
  let port: number;
  let vmId: string;
  const storage = tempDir('vl-ct-console-');
  const hostId = `ctcons-${randomUUID().slice(0, 8)}`;
  const images = join(storage.dir, 'images');
  const uri = `container:///?storage=${join(storage.dir, 'store')}&images=${images}&stopTimeoutMs=2000`;

  before(async () => {
    const rootfs = await shellImage(images);
    const authFile = writeAuthFile(storage.dir, [
      { name: 'audit-default', role: 'auditor', projects: ['default'] },
      { name: 'audit-other', role: 'auditor', projects: ['other'] },
    ]);
    t = await startTestApp({ env: { AUTH_FILE: authFile } });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    const res = await t.as('admin').post('/v1/hosts', {
      id: hostId,
      name: 'containers',
      driver: 'container',
      uri,
      capacity: { vcpus: 4, memoryMiB: 1024 },
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const created = await t
      .as('operator')
      .post('/v1/vms', { name: 'ct-shell', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId, image: rootfs });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    vmId = created.body.vmId as string;
    assert.equal((await waitOperation(t, created.body.operationId as string, 60_000)).status, 'succeeded');
  });

  after(async () => {
    await t?.close();
    const d = new ContainerDriver({ id: hostId, driver: 'container', uri, storageDir: join(storage.dir, 'store') });
    for (const dom of await d.listDomains()) {
      if (dom.managed) await d.destroy({ id: dom.vmId, name: dom.vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
    }
    await removeHostCgroups(hostId);
    storage.cleanup();
  });

  test('the log shows what the init printed; an operator types into its shell; a viewer cannot', async () => {
    await waitFor(
      async () => {
        const res = await t.as('viewer').get(`/v1/vms/${vmId}/console/log?tail=10`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        return (res.body.lines as string[]).includes('CONTAINER-READY');
      },
      { what: 'CONTAINER-READY in the console log', timeoutMs: 30_000, intervalMs: 200 },
    );
    const operator = await ConsoleClient.open(port, vmId, { token: TOKENS.operator });
    const viewer = await ConsoleClient.open(port, vmId, { token: TOKENS.viewer });
    try {
      const n = 1000 + Math.floor(Math.random() * 9000);
      // No pty: the shell does not echo the typed line, so only its output can match.
      operator.type(`echo ct-$((${n} + 1)) $(hostname)\n`);
      await operator.waitForOutput(`ct-${n + 1} ct-shell`, 20_000);
      await viewer.waitForOutput(`ct-${n + 1}`, 20_000);
      const metrics = parseSamples((await t.http().get('/metrics')).text);
      assert.equal(sampleValue(metrics, 'virtledger_console_sessions'), 2);
      viewer.type(`echo viewer-$((${n} + 2))\n`);
      await viewer.waitForNotice(/read-only/);
      operator.type(`echo after-$((${n} + 3))\n`);
      await operator.waitForOutput(`after-${n + 3}`, 20_000);
      assert.ok(!operator.output.includes(`viewer-${n + 2}`), 'a viewer keystroke reached the container');
    } finally {
      await operator.close();
      await viewer.close();
    }
    const events = await waitFor(
      async () => {
        const e = await t.runtime.store!.readStream(`console-${vmId}`);
        return e.filter((x) => x.type === 'ConsoleClosed').length === 2 ? e : false;
      },
      { what: 'both sessions closed in the log' },
    );
    assert.deepEqual(events.map((e) => e.type).sort(), [
      'ConsoleClosed',
      'ConsoleClosed',
      'ConsoleOpened',
      'ConsoleOpened',
    ]);
    // In the global log, a VM's console sessions are its project's: an auditor of another project does not see them.
    const seen = async (user: string) =>
      (
        (await asUser(t, user).get('/v1/events?type=ConsoleOpened&limit=1000')).body.items as {
          data: { vmId: string };
        }[]
      ).filter((e) => e.data.vmId === vmId).length;
    assert.equal(await seen('audit-default'), 2);
    assert.equal(await seen('audit-other'), 0);
  });

  test('one principal holds a bounded number of sessions: the next is a 429, and a closed one frees its place', async () => {
    const held: ConsoleClient[] = [];
    try {
      for (let i = 0; i < MAX_SESSIONS_PER_PRINCIPAL; i++)
        held.push(await ConsoleClient.open(port, vmId, { token: TOKENS.admin }));
      const refused = await ConsoleClient.open(port, vmId, { token: TOKENS.admin }).then(
        () => assert.fail('one session too many was accepted'),
        (err: unknown) => err,
      );
      assert.ok(refused instanceof UpgradeRefused, String(refused));
      assert.equal(refused.status, 429);
      assert.match(refused.body, /console sessions/);
      // Another principal is not affected.
      await (await ConsoleClient.open(port, vmId, { token: TOKENS.operator })).close();
      await held.pop()!.close();
      held.push(await ConsoleClient.open(port, vmId, { token: TOKENS.admin }));
    } finally {
      await Promise.all(held.map((c) => c.close()));
    }
  });
});

describe(
  'console across processes: the API (role api) and the host worker (role worker) meet only in Redis',
  { skip },
  () => {
    let t: TestApp;
    let port: number;
    let vmId: string;
    let worker: ChildProcess | undefined;
    const storage = tempDir('vl-ct-console-x-');
    const workerData = tempDir('vl-ct-console-worker-');
    const hostId = `ctconx-${randomUUID().slice(0, 8)}`;
    const images = join(storage.dir, 'images');
    const store = join(storage.dir, 'store');
    const uri = `container:///?storage=${store}&images=${images}&stopTimeoutMs=2000`;

    before(async () => {
      const rootfs = await shellImage(images);
      t = await startTestApp({ env: { ROLE: 'api' } });
      await t.app.listen(0, '127.0.0.1');
      port = (t.app.getHttpServer().address() as AddressInfo).port;
      const res = await t.as('admin').post('/v1/hosts', {
        id: hostId,
        name: 'containers-x',
        driver: 'container',
        uri,
        capacity: { vcpus: 4, memoryMiB: 1024 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      worker = spawn(process.execPath, [MAIN, '--role', 'worker', '--host', hostId], {
        env: {
          ...process.env,
          REDIS_URL: testRedisUrl(),
          REDIS_PREFIX: t.redisPrefix,
          DATA_DIR: workerData.dir,
          LOG_LEVEL: 'warn',
          HOST_DIR_ROOTS: t.config.hostDirRoots.join(','),
        },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      const created = await t
        .as('operator')
        .post('/v1/vms', { name: 'ct-x', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId, image: rootfs });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      vmId = created.body.vmId as string;
      assert.equal((await waitOperation(t, created.body.operationId as string, 60_000)).status, 'succeeded');
    });

    after(async () => {
      if (worker && worker.exitCode === null) {
        worker.kill('SIGTERM');
        await new Promise((r) => worker!.once('exit', r));
      }
      await t?.close();
      const d = new ContainerDriver({ id: hostId, driver: 'container', uri, storageDir: store });
      for (const dom of await d.listDomains()) {
        if (dom.managed) await d.destroy({ id: dom.vmId, name: dom.vmId, vcpus: 1, memoryMiB: 64, diskGiB: 1 });
      }
      await removeHostCgroups(hostId);
      storage.cleanup();
      workerData.cleanup();
    });

    test('typed in the API process, run in the container the worker process holds; a stopping worker ends the session', async () => {
      const c = await ConsoleClient.open(port, vmId, { token: TOKENS.operator });
      const n = 1000 + Math.floor(Math.random() * 9000);
      c.type(`echo x-$((${n} * 3))\n`);
      await c.waitForOutput(`x-${n * 3}`, 20_000);
      worker!.kill('SIGTERM');
      const closed = await c.closed;
      assert.equal(closed.code, 1000);
      assert.ok(
        c.notices.some((x) => x.type === 'closed' && /stopping/.test(x.message)),
        JSON.stringify(c.notices),
      );
    });
  },
);
