/**
 * The worst case of a fence during a migration, with real QEMU (TCG) and real worker processes on
 * storage three hosts share: S live-migrates a VM to T (RAM capped so the copy lasts a few
 * seconds). T's worker is killed -9 mid-copy; its incoming QEMU outlives it, so the migration
 * completes and S hands the guest off, but T never finishes. Then T's machine "loses power" (its
 * QEMU is killed too), T reads unreachable, an admin fences it: the migration ends failed naming
 * the fence, the VM (restartPolicy always) is recovered once on a live host, and exactly one QEMU
 * runs it, as the live hosts' drivers list it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { registerHost, startTestApp, waitOperation, type TestApp } from '../support/app.js';
import { storeEvents } from '../support/e2e.js';
import { tempDir } from '../support/env.js';
import { waitFor } from '../support/wait.js';
import { alive, heartbeatsFrom, qemuPid, runningOn, WorkerFleet } from '../support/worker-fleet.js';

const DEAD_MS = 2000;
const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
type Json = Record<string, unknown>;

describe(
  'process: the target of a handed-off live migration is fenced (real QEMU)',
  { skip: !hasQemu && 'qemu-system-x86_64 is not installed' },
  () => {
    let t: TestApp;
    const shared = tempDir('vl-fmq-');
    const fleet = new WorkerFleet(() => t, { HOST_DEAD_MS: String(DEAD_MS) });
    let S = '';
    let T = '';
    let R = '';

    const get = async (path: string): Promise<Json> => (await t.as('viewer').get(path)).body;

    before(async () => {
      t = await startTestApp({ env: { ROLE: 'api', HOST_DEAD_MS: String(DEAD_MS), JOB_ATTEMPTS: '1' } });
      const uri = `qemu:///system?storage=${shared.dir}&accel=tcg`;
      const capacity = { vcpus: 8, memoryMiB: 4096 };
      // 250 kB/s: a no-OS guest's RAM takes seconds to go, long enough to kill T's worker meanwhile.
      S = await registerHost(t, {
        name: 'fmq-s',
        driver: 'qemu',
        uri: `${uri}&migrationBandwidth=250000`,
        capacity,
      });
      T = await registerHost(t, { name: 'fmq-t', driver: 'qemu', uri, capacity });
      R = await registerHost(t, { name: 'fmq-r', driver: 'qemu', uri, capacity });
    });
    after(async () => {
      fleet.killAll(shared.dir);
      await t?.close();
      shared.cleanup();
    });

    test(
      'the migration fails naming the fence; the VM recovered once; one QEMU runs it',
      { timeout: 300000 },
      async () => {
        fleet.start(S);
        const wT = fleet.start(T);
        fleet.start(R);
        await heartbeatsFrom(t, [S, T, R]);
        const created = await t.as('operator').post('/v1/vms', {
          name: 'fmq-vm',
          vcpus: 1,
          memoryMiB: 64,
          diskGiB: 1,
          hostId: S,
          restartPolicy: 'always',
        });
        assert.equal(created.status, 202, JSON.stringify(created.body));
        const vmId = created.body.vmId as string;
        assert.equal((await waitOperation(t, created.body.operationId as string, 90000)).status, 'succeeded');

        const mig = await t.as('admin').post(`/v1/vms/${vmId}/migrations`, { targetHostId: T, live: true });
        assert.equal(mig.status, 202, JSON.stringify(mig.body));
        const op = mig.body.operationId as string;
        await waitFor(
          async () => {
            const o = await get(`/v1/operations/${op}`);
            const msg = (o.progress as Json | undefined)?.message;
            return typeof msg === 'string' && msg.startsWith('migrating memory') ? o : undefined;
          },
          { what: 'RAM copy under way', timeoutMs: 90000, intervalMs: 50 },
        );
        wT.kill('SIGKILL');
        // T's incoming QEMU lives on: the copy completes and S hands the guest off; nobody finishes it.
        await waitFor(
          async () =>
            (await storeEvents(t)).some((e) => e.type === 'VmMigrationHandedOff' && e.streamId === `vm-${vmId}`),
          { what: 'the hand-off to T', timeoutMs: 120000, intervalMs: 200 },
        );
        const incoming = qemuPid(shared.dir, T, vmId);
        assert.ok(alive(incoming), 'the guest runs in T’s QEMU');
        // T's machine goes down with it.
        process.kill(incoming, 'SIGKILL');
        await waitFor(async () => (await get(`/v1/hosts/${T}`)).state === 'unreachable', {
          what: 'T unreachable',
          timeoutMs: 30000,
        });
        const fenced = await t.as('admin').post(`/v1/hosts/${T}/fence`, { reason: 'T lost power' });
        assert.equal(fenced.status, 200, JSON.stringify(fenced.body));

        const done = await waitOperation(t, op, 60000);
        assert.equal(done.status, 'failed', JSON.stringify(done));
        assert.match(
          String(done.error),
          new RegExp(`target host ${T} was fenced \\(.+\\) after ${S} handed the VM off`),
        );

        const back = await waitFor(
          async () => {
            const v = await get(`/v1/vms/${vmId}`);
            return v.state === 'running' && v.hostId !== T ? v : undefined;
          },
          { what: 'the VM recovered on a live host', timeoutMs: 120000, intervalMs: 250 },
        );
        const recoveries = (await storeEvents(t)).filter(
          (e) => e.type === 'VmRecoveryRequested' && e.streamId === `vm-${vmId}`,
        );
        assert.equal(recoveries.length, 1, 'recovered once');
        assert.equal(recoveries[0]!.data.fromHostId, T);
        const home = back.hostId as string;
        const other = home === S ? R : S;
        assert.equal(await runningOn(t, home, vmId), true, `runs on ${home}`);
        assert.equal(await runningOn(t, other, vmId), false, `does not run on ${other}`);
        assert.equal(alive(incoming), false, 'T’s copy is gone');
        assert.ok(alive(qemuPid(shared.dir, home, vmId)), 'one QEMU runs it');
      },
    );
  },
);
