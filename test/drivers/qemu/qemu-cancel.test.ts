/**
 * Issue 16 item 2 against real QEMU (TCG, no-OS guests that ignore ACPI): a graceful stop
 * cancelled through DELETE /v1/operations/{id} leaves the guest running; a forced stop
 * supersedes a graceful one and stops it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { tempDir } from '../../support/env.js';
import { waitFor } from '../../support/wait.js';

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
type Domain = { vmId: string; state: string; managed: boolean };

describe('cancel against real QEMU', { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' }, () => {
  let t: TestApp;
  const dirs: Array<{ cleanup: () => void }> = [];
  const h1 = `qc1-${randomUUID().slice(0, 8)}`;
  const h2 = `qc2-${randomUUID().slice(0, 8)}`;
  let vmId = '';

  before(async () => {
    t = await startTestApp();
    // Source: ACPI waits 2 minutes (only a cancel ends it early).
    for (const [id, params] of [
      [h1, 'stopTimeoutMs=120000'],
      [h2, 'stopTimeoutMs=2000'],
    ] as const) {
      const dir = tempDir('vl-qcancel-');
      dirs.push(dir);
      const res = await t.as('admin').post('/v1/hosts', {
        id,
        name: id,
        driver: 'qemu',
        uri: `qemu:///system?storage=${dir.dir}&accel=tcg&${params}`,
        capacity: { vcpus: 8, memoryMiB: 4096 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
    const create = await t
      .as('operator')
      .post('/v1/vms', { name: 'c', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId: h1 });
    assert.equal(create.status, 202, JSON.stringify(create.body));
    vmId = create.body.vmId as string;
    assert.equal((await waitOperation(t, create.body.operationId, 60000)).status, 'succeeded');
  });
  after(async () => {
    if (vmId) await waitOperation(t, (await t.as('operator').delete(`/v1/vms/${vmId}`)).body.operationId, 60000);
    await t.close();
    for (const d of dirs) d.cleanup();
  });

  const domainOn = async (hostId: string): Promise<Domain | undefined> => {
    const res = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return (res.body.items as Domain[]).find((d) => d.vmId === vmId);
  };
  const opStatus = async (id: string, status: string) =>
    waitFor(
      async () => {
        const op = await t.as('operator').get(`/v1/operations/${id}`);
        return op.body.status === status ? op.body : undefined;
      },
      { what: `operation ${id} ${status}`, timeoutMs: 60000 },
    );

  test('a graceful stop of a guest that ignores ACPI, cancelled: QEMU keeps running', async () => {
    const stop = await t.as('operator').post(`/v1/vms/${vmId}/stop`, {});
    assert.equal(stop.status, 202);
    await opStatus(stop.body.operationId, 'running');
    const res = await t.as('operator').delete(`/v1/operations/${stop.body.operationId}?reason=no%20OS`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, 'cancelled');
    assert.equal((await t.as('viewer').get(`/v1/vms/${vmId}`)).body.state, 'running');
    assert.equal((await domainOn(h1))?.state, 'running');
  });

  test('a forced stop supersedes the graceful one in flight, and stops the VM', async () => {
    const graceful = await t.as('operator').post(`/v1/vms/${vmId}/stop`, {});
    await opStatus(graceful.body.operationId, 'running');
    const forced = await t.as('operator').post(`/v1/vms/${vmId}/stop`, { force: true });
    assert.equal(forced.status, 202, JSON.stringify(forced.body));
    assert.equal((await waitOperation(t, forced.body.operationId, 60000)).status, 'succeeded');
    assert.equal((await waitOperation(t, graceful.body.operationId)).status, 'cancelled');
    assert.equal((await domainOn(h1))?.state, 'stopped');
    const start = await t.as('operator').post(`/v1/vms/${vmId}/start`, {});
    assert.equal((await waitOperation(t, start.body.operationId, 60000)).status, 'succeeded');
  });
});
