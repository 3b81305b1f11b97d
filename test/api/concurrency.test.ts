/**
 * Optimistic concurrency under load: one operation per VM at a time, and
 * placement that never over-commits a host.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, waitOperation, type TestApp } from '../support/app.js';
import {
  assertAccepted,
  assertError,
  createVmOp,
  getHost,
  getVm,
  registerSimHost,
  storeEvents,
  vmEvents,
  type Json,
} from '../support/e2e.js';

describe('e2e: concurrency', () => {
  let t: TestApp;

  before(async () => {
    // The start of the contended VM hangs until this deadline, so its operation is
    // still in flight while the 49 others arrive, however slow the machine: on a loaded
    // 2-core runner the 50 requests took up to 21 s, so 2 s once let a late start in.
    t = await startTestApp({ env: { JOB_TIMEOUT_MS: '60000', JOB_ATTEMPTS: '1' } });
  });
  after(async () => {
    await t?.close();
  });

  test('50 concurrent starts of one stopped VM: exactly one 202, 49 × 409 naming the operation in flight', async () => {
    const host = await registerSimHost(t, 'hv-hang', 'simulated://?latencyMs=0&hangVerbs=start');
    const created = await createVmOp(t, { name: 'contended', hostId: host.id, start: false });
    assert.equal(created.operation.status, 'succeeded', JSON.stringify(created.operation));
    const vmId = created.accepted.vmId;
    assert.equal((await getVm(t, vmId)).state, 'stopped');

    const answers = await Promise.all(
      Array.from({ length: 50 }, () => t.as('operator').post(`/v1/vms/${vmId}/start`, {})),
    );
    const ok = answers.filter((r) => r.status === 202);
    const conflicts = answers.filter((r) => r.status === 409);
    assert.equal(ok.length, 1, `statuses: ${answers.map((r) => r.status).join(',')}`);
    assert.equal(conflicts.length, 49, `statuses: ${answers.map((r) => r.status).join(',')}`);
    const { operationId } = assertAccepted(ok[0]!, vmId);
    for (const c of conflicts) {
      assertError(c, 409);
      assert.ok((c.body.message as string).includes(operationId), `409 must name ${operationId}: ${c.body.message}`);
      assert.equal(c.body.details?.operationId, operationId);
    }

    const events = await vmEvents(t, vmId);
    assert.equal(events.filter((e) => e.type === 'VmStartRequested').length, 1, 'one operation recorded');

    // The winner's start hangs and times out; the VM goes back to stopped and takes commands again.
    const op = await waitOperation(t, operationId, 120_000);
    assert.equal(op.status, 'failed');
    assert.equal((await getVm(t, vmId)).state, 'stopped');
    assertAccepted(await t.as('operator').delete(`/v1/vms/${vmId}`), vmId);
  });

  test('50 concurrent creates on a host with room for 10: exactly 10 run, 40 fail on capacity, never over-committed', async () => {
    const host = await registerSimHost(t, 'hv-small', 'simulated://?latencyMs=0', { vcpus: 10, memoryMiB: 1_000_000 });
    const hostId = host.id as string;

    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        t.as('operator').post('/v1/vms', { name: `burst-${i}`, vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId }),
      ),
    );
    const accepted = answers.map((r) => assertAccepted(r));
    assert.equal(new Set(accepted.map((a) => a.vmId)).size, 50);

    const ops = await Promise.all(accepted.map((a) => waitOperation(t, a.operationId, 30000)));
    const succeeded = ops.filter((o) => o.status === 'succeeded');
    const failed = ops.filter((o) => o.status === 'failed');
    assert.equal(succeeded.length, 10, `statuses: ${ops.map((o) => o.status).join(',')}`);
    assert.equal(failed.length, 40);
    for (const f of failed) {
      assert.match(f.error as string, /vCPUs/, f.error as string);
      assert.match(f.error as string, /free|capacity/i, f.error as string);
    }

    const vms = await Promise.all(accepted.map((a) => getVm(t, a.vmId)));
    const byOp = new Map(ops.map((o) => [o.vmId as string, o.status]));
    const running = vms.filter((v) => v.state === 'running');
    assert.equal(running.length, 10);
    for (const v of vms) {
      if (byOp.get(v.id as string) === 'succeeded') {
        assert.equal(v.state, 'running');
        assert.equal(v.hostId, hostId);
      } else {
        assert.equal(v.state, 'failed', JSON.stringify(v));
      }
    }

    const view: Json = await getHost(t, hostId);
    assert.deepEqual(view.allocated, { vcpus: 10, memoryMiB: 640 });
    assert.equal(view.vms, 10);

    // The host's own stream: 10 reservations, none released, and at no point more than its capacity.
    const hostEvents = (await storeEvents(t)).filter((e) => e.streamId === `host-${hostId}`);
    const reserved = hostEvents.filter((e) => e.type === 'HostCapacityReserved');
    assert.equal(reserved.length, 10);
    assert.equal(hostEvents.filter((e) => e.type === 'HostCapacityReleased').length, 0);
    assert.deepEqual(new Set(reserved.map((e) => e.data.vmId)), new Set(running.map((v) => v.id)));
    const holds = new Map<string, number>();
    let peak = 0;
    for (const e of hostEvents) {
      if (e.type === 'HostCapacityReserved') holds.set(e.data.vmId as string, e.data.vcpus as number);
      if (e.type === 'HostCapacityReleased') holds.delete(e.data.vmId as string);
      peak = Math.max(
        peak,
        [...holds.values()].reduce((a, b) => a + b, 0),
      );
    }
    assert.ok(peak <= 10, `peak allocation ${peak} vCPUs`);
  });
});
