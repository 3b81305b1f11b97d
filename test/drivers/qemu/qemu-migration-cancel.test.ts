/**
 * Issue 16 item 2 against real QEMU (TCG, no-OS guests, two qemu hosts in one app): cancelling a
 * live migration through DELETE /v1/operations/{id}. The cancel is only asked; QEMU decides.
 * At prepareIncoming or mid-copy it ends `cancelled` with the principal and the VM on its source
 * only; after the hand-off it is a 409; and a cancel racing a completing migration ends as
 * whatever QEMU says, with the log and the hosts agreeing: the VM runs on exactly one host.
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
type Json = Record<string, unknown>;

describe(
  'cancel a live migration against real QEMU',
  { skip: hasQemu ? false : 'qemu-system-x86_64 not installed' },
  () => {
    let t: TestApp;
    const dirs: Array<{ cleanup: () => void }> = [];
    const tag = randomUUID().slice(0, 6);
    // slow: RAM goes out at 2000 bytes/s, so a migration from it stays mid-copy until cancelled.
    const slow = `qm-slow-${tag}`;
    const fast = `qm-fast-${tag}`;
    const target = `qm-dst-${tag}`;
    const vms: string[] = [];

    before(async () => {
      t = await startTestApp();
      for (const [id, params] of [
        [slow, '&migrationBandwidth=2000'],
        [fast, ''],
        [target, ''],
      ] as const) {
        const dir = tempDir('vl-qmcancel-');
        dirs.push(dir);
        const res = await t.as('admin').post('/v1/hosts', {
          id,
          name: id,
          driver: 'qemu',
          uri: `qemu:///system?storage=${dir.dir}&accel=tcg${params}`,
          capacity: { vcpus: 8, memoryMiB: 4096 },
        });
        assert.equal(res.status, 201, JSON.stringify(res.body));
      }
    });
    after(async () => {
      for (const vmId of vms) {
        const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
        if (del.status === 202) await waitOperation(t, del.body.operationId as string, 60000);
      }
      await t.close();
      for (const d of dirs) d.cleanup();
    });

    const createOn = async (hostId: string, name: string): Promise<string> => {
      const res = await t.as('operator').post('/v1/vms', { name, vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const vmId = res.body.vmId as string;
      vms.push(vmId);
      assert.equal((await waitOperation(t, res.body.operationId as string, 60000)).status, 'succeeded');
      return vmId;
    };
    const migrate = async (vmId: string): Promise<string> => {
      const res = await t.as('admin').post(`/v1/vms/${vmId}/migrations`, { targetHostId: target, live: true });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      return res.body.operationId as string;
    };
    const operation = async (id: string): Promise<Json> => (await t.as('operator').get(`/v1/operations/${id}`)).body;
    const domainOn = async (hostId: string, vmId: string): Promise<Domain | undefined> => {
      const res = await t.as('operator').get(`/v1/hosts/${hostId}/domains`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      // Every host on this one machine also sees the others' QEMU processes, as unmanaged ones.
      return (res.body.items as Domain[]).find((d) => d.vmId === vmId && d.managed);
    };
    /** What each host's driver really runs: the VM must be running on `on` and absent from `off`. */
    const runsOnlyOn = async (vmId: string, on: string, off: string) => {
      let seen: Domain | undefined;
      await waitFor(
        async () => {
          seen = await domainOn(off, vmId);
          return seen === undefined;
        },
        { what: `${vmId} gone from ${off}`, timeoutMs: 30000 },
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; ${off} still lists ${JSON.stringify(seen)}`);
      });
      assert.equal((await domainOn(on, vmId))?.state, 'running');
      const vm = (await t.as('operator').get(`/v1/vms/${vmId}`)).body;
      assert.equal(vm.hostId, on);
      assert.equal(vm.state, 'running');
    };
    const cancel = (id: string) => t.as('operator').delete(`/v1/operations/${id}?reason=changed%20my%20mind`);

    test('cancelled at once (prepareIncoming, queued or running): cancelled, the VM on its source only', async () => {
      const vmId = await createOn(slow, `prep-${tag}`);
      const op = await migrate(vmId);
      const res = await cancel(op);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(res.body.cancelRequested, 'a migration cancel is asked, then QEMU decides');
      const done = await waitOperation(t, op, 60000);
      assert.equal(done.status, 'cancelled', JSON.stringify(done));
      assert.match(String((done.cancelled as Json).by), /^operator/);
      await runsOnlyOn(vmId, slow, target);
    });

    test('cancelled mid RAM copy: QEMU cancels, the source keeps running, the target is aborted', async () => {
      const vmId = await createOn(slow, `ram-${tag}`);
      const op = await migrate(vmId);
      // The worker reports QEMU's query-migrate while RAM is copied: cancel only then.
      await waitFor(
        async () => {
          const o = await operation(op);
          const msg = (o.progress as Json | undefined)?.message;
          return typeof msg === 'string' && msg.startsWith('migrating memory') ? o : undefined;
        },
        { what: 'RAM copy under way', timeoutMs: 60000 },
      );
      const res = await cancel(op);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const done = await waitOperation(t, op, 60000);
      assert.equal(done.status, 'cancelled', JSON.stringify(done));
      // QEMU's own answer to the abort, not the worker's guess.
      assert.match(
        String(done.error),
        /^cancelled by operator.*: changed my mind \(migrate failed .*\(QEMU: migration cancelled\)\)$/,
      );
      await runsOnlyOn(vmId, slow, target);
    });

    test('after the hand-off: 409, and the migration finishes on the target', async () => {
      const vmId = await createOn(fast, `late-${tag}`);
      const op = await migrate(vmId);
      await waitFor(
        async () => {
          const o = await operation(op);
          const step = (o.progress as Json | undefined)?.step;
          return step === 'finishIncoming' || o.status === 'succeeded' ? o : undefined;
        },
        { what: 'hand-off', timeoutMs: 60000 },
      );
      const res = await cancel(op);
      assert.equal(res.status, 409, JSON.stringify(res.body));
      // Past the hand-off, or already closed in the log while the operations view still catches up.
      assert.match(String(res.body.message), /too late to cancel|already (succeeded|done)/);
      assert.equal((await waitOperation(t, op, 60000)).status, 'succeeded');
      await runsOnlyOn(vmId, target, fast);
    });

    test('a cancel racing a fast migration: whatever QEMU decides, the log and the hosts agree', async () => {
      const vmId = await createOn(fast, `race-${tag}`);
      const op = await migrate(vmId);
      await waitFor(async () => ((await operation(op)).status === 'running' ? true : undefined), {
        what: 'migration running',
        timeoutMs: 60000,
      });
      const res = await cancel(op);
      assert.ok([200, 409].includes(res.status), JSON.stringify(res.body));
      const done = await waitOperation(t, op, 60000);
      if (done.status === 'cancelled') await runsOnlyOn(vmId, fast, target);
      else {
        assert.equal(done.status, 'succeeded', JSON.stringify(done));
        await runsOnlyOn(vmId, target, fast);
      }
    });
  },
);
