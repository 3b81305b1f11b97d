import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { QmpClient } from '../../../src/drivers/qemu/qmp.client.js';
import type { QmpStatusInfo } from '../../../src/drivers/qemu/qmp.types.js';
import { waitFor } from '../../support/wait.js';
import { QemuTestEnv, vmSpec } from './qemu-test-env.js';
import { driverError } from '../../support/driver-error.js';

/**
 * Connections QEMU has accepted on its QMP socket right now: the kernel lists an accepted unix
 * socket under the listening socket's path, state 03 (connected); the listening one is state 01.
 */
function qmpClients(socketPath: string): number {
  return readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .filter((line) => line.endsWith(` ${socketPath}`) && line.trim().split(/\s+/)[5] === '03').length;
}

/** A port nobody listens on (bound once, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

async function greeted(socketPath: string): Promise<string> {
  const operator = await QmpClient.connect(socketPath, { connectTimeoutMs: 5_000 });
  try {
    return (await operator.execute<QmpStatusInfo>('query-status')).status;
  } finally {
    operator.close();
  }
}

describe('qemu driver: a live migration source made ready ahead (prepareOutgoing, real qemu)', () => {
  const env = new QemuTestEnv();
  after(() => env.cleanup());
  const source = env.driver('host-ready-a', { storage: 'shared-ready' });
  const target = env.driver('host-ready-b', { storage: 'shared-ready' });

  test('the source holds its QMP connection for the migrate, which runs on it; the hold ends with the migrate', async () => {
    const spec = vmSpec();
    await source.define(spec);
    await source.start(spec);
    const socket = source.domainPaths(spec.id).qmpSocket;
    // The start's own connection closes as it ends (QEMU sees the close a moment later).
    await waitFor(() => qmpClients(socket) === 0, { what: 'no QMP client between operations' });

    await source.prepareOutgoing(spec.id);
    assert.equal(qmpClients(socket), 1, 'the connection is open and held while the target prepares');
    const endpoint = await target.prepareIncoming(spec, { live: true });
    assert.equal(qmpClients(socket), 1, 'still held');

    // A migrate that fails leaves the source running, and lets the held connection go at once.
    await assert.rejects(
      source.migrate(spec, { ...endpoint, port: await closedPort() }, { live: true }),
      driverError('failed', /refused|connect/i),
    );
    await waitFor(() => qmpClients(socket) === 0, { what: 'the held QMP connection to be let go' });
    assert.equal(await greeted(socket), 'running', "an operator's tool is greeted again");

    // Made ready again, then migrated: the migrate goes out on the held connection.
    await source.prepareOutgoing(spec.id);
    assert.equal(qmpClients(socket), 1);
    const finished: Promise<void>[] = [];
    await source.migrate(
      spec,
      endpoint,
      { live: true },
      { onHandedOff: () => finished.push(target.finishIncoming(spec, { live: true })) },
    );
    await finished[0];
    assert.equal((await target.status(spec)).state, 'running');
    assert.equal((await source.status(spec)).state, 'absent');
    // A hint that comes after the VM left does nothing.
    await source.prepareOutgoing(spec.id);
    await target.destroy(spec);
  });

  test('paused after it was made ready: the migrate asks QEMU again, and a failed one leaves the VM paused', async () => {
    const spec = vmSpec();
    await source.define(spec);
    await source.start(spec);
    await source.prepareOutgoing(spec.id); // running then
    await source.pause(spec);
    const endpoint = await target.prepareIncoming(spec, { live: true });
    // A failed migration resumes the guest only when it ran before: the status made ready with
    // ("running") is stale, QEMU's STOP on the held connection says so.
    await assert.rejects(
      source.migrate(spec, { ...endpoint, port: await closedPort() }, { live: true }),
      driverError('failed', /refused|connect/i),
    );
    assert.equal((await source.status(spec)).state, 'paused');
    await target.abortIncoming(spec);
    await source.destroy(spec);
  });

  test('a hold no migrate follows ends by itself; a VM not running here is not held', async () => {
    const spec = vmSpec();
    await source.define(spec);
    await source.prepareOutgoing(spec.id); // defined, not running: nothing to connect to, no error
    await source.start(spec);
    const socket = source.domainPaths(spec.id).qmpSocket;
    await waitFor(() => qmpClients(socket) === 0, { what: "the start's connection to close" });
    await source.prepareOutgoing(spec.id, { holdMs: 200 });
    assert.equal(qmpClients(socket), 1);
    await waitFor(() => qmpClients(socket) === 0, { what: 'the unused hold to end' });
    assert.equal(await greeted(socket), 'running');
    await source.destroy(spec);
  });
});
